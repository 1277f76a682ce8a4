/**
 * The query parameters each NGSI-LD operation defines (NGSI-LD §6.x); anything else is answered
 * with InvalidRequest (§6.3.20). Routes carry their list in `config.params`.
 */
const COMMON = ['local', 'options', 'format'] as const;
const RENDER = [
  'attrs',
  'pick',
  'omit',
  'lang',
  'geometryProperty',
  'join',
  'joinLevel',
  'datasetId',
  'entityMap',
  'containedBy',
] as const;
const FILTER = [
  'id',
  'idPattern',
  'type',
  'q',
  'scopeQ',
  'georel',
  'geometry',
  'coordinates',
  'geoproperty',
  'csf',
] as const;
const PAGE = ['limit', 'offset', 'count', 'orderBy', 'collect'] as const;

export const PARAMS = {
  queryEntities: [...COMMON, ...RENDER, ...FILTER, ...PAGE],
  purgeEntities: [...COMMON, ...FILTER, 'attrs', 'keep', 'drop'],
  createEntity: [...COMMON],
  retrieveEntity: [...COMMON, ...RENDER, 'type'],
  writeEntity: [...COMMON, 'type', 'observedAt', 'lang'],
  writeAttrs: [...COMMON, 'lang'],
  deleteAttr: [...COMMON, 'datasetId', 'deleteAll', 'lang'],
  batch: [...COMMON],
  queryPost: [...COMMON, ...PAGE, 'lang', 'geometryProperty', 'join', 'joinLevel', 'entityMap'],
  discovery: ['local', 'details', 'type'],
  contextsList: ['details', 'kind'],
  contextsOne: ['details'],
  contextsDelete: ['reload'],
  none: [],
} as const satisfies Record<string, readonly string[]>;

/**
 * Parameters of NGSI-LD features not built yet (entity maps, context-source filters):
 * refused with OperationNotSupported rather than silently ignored.
 */
export const NOT_SUPPORTED: readonly string[] = ['entityMap', 'containedBy', 'csf', 'collect'];
