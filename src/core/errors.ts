/**
 * The closed set of error codes of the hub, each mapped once to an HTTP status and an NGSI-LD
 * ProblemDetails type (NGSI-LD §5.5.2, Table 5.5.2-1). A missing mapping fails to compile.
 */

export const ERROR_CODES = [
  'InvalidRequest',
  'BadRequestData',
  'AlreadyExists',
  'OperationNotSupported',
  'ResourceNotFound',
  'InternalError',
  'TooComplexQuery',
  'TooManyResults',
  'LdContextNotAvailable',
  'NoMultiTenantSupport',
  'NonexistentTenant',
  'NotAcceptable',
  'UnsupportedMediaType',
  'PayloadTooLarge',
  'MethodNotAllowed',
  'Conflict',
  'Unauthorized',
  'Forbidden',
  'ServiceUnavailable',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const NGSI = 'https://uri.etsi.org/ngsi-ld/errors/';

export const ERROR_MAP: Record<ErrorCode, { status: number; type: string; title: string }> = {
  InvalidRequest: { status: 400, type: `${NGSI}InvalidRequest`, title: 'Invalid request' },
  BadRequestData: { status: 400, type: `${NGSI}BadRequestData`, title: 'Bad request data' },
  AlreadyExists: { status: 409, type: `${NGSI}AlreadyExists`, title: 'Already exists' },
  OperationNotSupported: {
    status: 422,
    type: `${NGSI}OperationNotSupported`,
    title: 'Operation not supported',
  },
  ResourceNotFound: { status: 404, type: `${NGSI}ResourceNotFound`, title: 'Resource not found' },
  InternalError: { status: 500, type: `${NGSI}InternalError`, title: 'Internal error' },
  TooComplexQuery: { status: 403, type: `${NGSI}TooComplexQuery`, title: 'Too complex query' },
  TooManyResults: { status: 403, type: `${NGSI}TooManyResults`, title: 'Too many results' },
  LdContextNotAvailable: {
    status: 503,
    type: `${NGSI}LdContextNotAvailable`,
    title: 'LD context not available',
  },
  NoMultiTenantSupport: {
    status: 501,
    type: `${NGSI}NoMultiTenantSupport`,
    title: 'No multi-tenant support',
  },
  NonexistentTenant: { status: 404, type: `${NGSI}NonexistentTenant`, title: 'Nonexistent tenant' },
  NotAcceptable: { status: 406, type: `${NGSI}NotAcceptable`, title: 'Not acceptable' },
  UnsupportedMediaType: { status: 415, type: `${NGSI}UnsupportedMediaType`, title: 'Unsupported media type' },
  PayloadTooLarge: { status: 413, type: `${NGSI}PayloadTooLarge`, title: 'Payload too large' },
  MethodNotAllowed: { status: 405, type: `${NGSI}MethodNotAllowed`, title: 'Method not allowed' },
  Conflict: { status: 409, type: `${NGSI}Conflict`, title: 'Conflict' },
  Unauthorized: { status: 401, type: `${NGSI}Unauthorized`, title: 'Unauthorized' },
  Forbidden: { status: 403, type: `${NGSI}Forbidden`, title: 'Forbidden' },
  ServiceUnavailable: { status: 503, type: `${NGSI}ServiceUnavailable`, title: 'Service unavailable' },
};

/** An error the hub answers with on purpose. `detail` is shown to the client; `cause` is logged only. */
export class HubError extends Error {
  readonly code: ErrorCode;
  readonly instance: string | undefined;
  constructor(code: ErrorCode, detail: string, options?: { cause?: unknown; instance?: string }) {
    super(detail, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HubError';
    this.code = code;
    this.instance = options?.instance;
  }
}

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
}

export function toProblemDetails(err: HubError): ProblemDetails {
  const m = ERROR_MAP[err.code];
  const pd: ProblemDetails = { type: m.type, title: m.title, status: m.status, detail: err.message };
  if (err.instance !== undefined) pd.instance = err.instance;
  return pd;
}

export const badRequest = (detail: string, cause?: unknown): HubError =>
  new HubError('BadRequestData', detail, { cause });
export const invalidRequest = (detail: string, cause?: unknown): HubError =>
  new HubError('InvalidRequest', detail, { cause });
export const notFound = (detail: string, instance?: string): HubError =>
  new HubError('ResourceNotFound', detail, instance === undefined ? undefined : { instance });
