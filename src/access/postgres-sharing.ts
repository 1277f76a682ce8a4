/**
 * Storage of data sharing between departments (migration 5): published datasets, access
 * requests, grants and the sharing ledger (GB/T 35273 §9.2: date, scale, purpose, recipient).
 */
import type { QueryResultRow } from 'pg';
import type { AccessGrant, Area } from '../core/access/access-model.js';
import type {
  Dataset,
  LedgerEntry,
  RequestState,
  SharingStore,
  ShareRequest,
} from '../core/access/access-store.js';
import { HubError } from '../core/errors.js';
import type { Run } from '../store/sql-run.js';
import { noDepartment, onMissingReference } from '../store/foreign-keys.js';

const iso = (v: unknown): string | undefined =>
  v === null || v === undefined ? undefined : new Date(v as string).toISOString();
const opt = <K extends string, V>(k: K, v: V | null | undefined): Partial<Record<K, V>> =>
  (v === null || v === undefined ? {} : { [k]: v }) as Partial<Record<K, V>>;

function datasetOf(r: QueryResultRow): Dataset {
  return {
    id: r.id as string,
    ownerDepartment: r.owner_department as string,
    tenant: r.tenant as string,
    entityType: r.entity_type as string,
    ...opt('attrs', r.attrs as string[] | null),
    ...opt('area', r.area as Area | null),
    title: r.title as string,
    ...opt('description', r.description as string | null),
    ...opt('createdBy', r.created_by as string | null),
    ...opt('createdAt', iso(r.created_at)),
  };
}

function requestOf(r: QueryResultRow): ShareRequest {
  return {
    id: r.id as string,
    datasetId: r.dataset_id as string,
    department: r.department as string,
    purpose: r.purpose as string,
    validFrom: iso(r.valid_from) as string,
    validUntil: iso(r.valid_until) as string,
    state: r.state as RequestState,
    ...opt('requestedBy', r.requested_by as string | null),
    ...opt('decidedBy', r.decided_by as string | null),
    ...opt('decidedAt', iso(r.decided_at)),
    ...opt('reason', r.reason as string | null),
    ...opt('createdAt', iso(r.created_at)),
  };
}

function grantOf(r: QueryResultRow): AccessGrant {
  return {
    id: r.id as string,
    department: r.department as string,
    tenant: r.tenant as string,
    entityType: r.entity_type as string,
    ...opt('attrs', r.attrs as string[] | null),
    purpose: r.purpose as string,
    ...opt('area', r.area as Area | null),
    validFrom: iso(r.valid_from) as string,
    validUntil: iso(r.valid_until) as string,
    ...opt('requestId', r.request_id as string | null),
    ...opt('datasetId', r.dataset_id as string | null),
  };
}

/** The department of the one asking, or of the request decided, deleted meanwhile: 409. */
const goneDepartment = (id: string) => (cause: unknown) =>
  new HubError('Conflict', `Department ${id} no longer exists`, { cause });

export function createAccessSharingStore(
  run: Run,
  inTx: <T>(fn: (run: Run) => Promise<T>) => Promise<T>,
): SharingStore {
  return {
    async createDataset(d: Dataset): Promise<void> {
      await run(
        `INSERT INTO access_datasets (id, owner_department, tenant, entity_type, attrs, area, title, description, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          d.id,
          d.ownerDepartment,
          d.tenant,
          d.entityType,
          d.attrs ?? null,
          d.area ? JSON.stringify(d.area) : null,
          d.title,
          d.description ?? null,
          d.createdBy ?? null,
        ],
      ).catch(
        onMissingReference({ access_datasets_owner_department_fkey: goneDepartment(d.ownerDepartment) }),
      );
    },
    async getDataset(id: string): Promise<Dataset | undefined> {
      const r = await run('SELECT * FROM access_datasets WHERE id = $1', [id]);
      return r.rows[0] ? datasetOf(r.rows[0]) : undefined;
    },
    async listDatasets(): Promise<Dataset[]> {
      return (await run('SELECT * FROM access_datasets ORDER BY created_at, id')).rows.map(datasetOf);
    },
    async deleteDataset(id: string): Promise<boolean> {
      return ((await run('DELETE FROM access_datasets WHERE id = $1', [id])).rowCount ?? 0) > 0;
    },

    async createRequest(q: ShareRequest): Promise<void> {
      await run(
        `INSERT INTO access_share_requests (id, dataset_id, department, purpose, valid_from, valid_until, state, requested_by)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)`,
        [q.id, q.datasetId, q.department, q.purpose, q.validFrom, q.validUntil, q.requestedBy ?? null],
      ).catch(
        onMissingReference({
          access_share_requests_dataset_id_fkey: (cause) =>
            new HubError('ResourceNotFound', `No dataset ${q.datasetId}`, { cause }),
          access_share_requests_department_fkey: goneDepartment(q.department),
        }),
      );
    },
    async getRequest(id: string): Promise<ShareRequest | undefined> {
      const r = await run('SELECT * FROM access_share_requests WHERE id = $1', [id]);
      return r.rows[0] ? requestOf(r.rows[0]) : undefined;
    },
    async listRequests(filter: { departments?: string[] } = {}): Promise<ShareRequest[]> {
      const r = filter.departments
        ? await run(
            `SELECT q.* FROM access_share_requests q JOIN access_datasets d ON d.id = q.dataset_id
             WHERE q.department = ANY($1) OR d.owner_department = ANY($1) ORDER BY q.created_at, q.id`,
            [filter.departments],
          )
        : await run('SELECT * FROM access_share_requests ORDER BY created_at, id');
      return r.rows.map(requestOf);
    },
    /**
     * Decides a pending request; on approval the grant and the ledger entry are written in the
     * same transaction. False if the request was not pending (decided already, concurrently).
     */
    async decide(
      id: string,
      decision: { state: 'approved' | 'denied'; by: string; reason?: string },
      approved?: { grant: AccessGrant; ledger: LedgerEntry },
    ): Promise<boolean> {
      return inTx(async (q) => {
        const r = await q(
          `UPDATE access_share_requests SET state = $2, decided_by = $3, decided_at = now(), reason = $4
           WHERE id = $1 AND state = 'pending'`,
          [id, decision.state, decision.by, decision.reason ?? null],
        );
        if ((r.rowCount ?? 0) === 0) return false;
        if (approved) {
          await insertGrant(q, approved.grant, decision.by).catch(
            onMissingReference({ access_grants_department_fkey: goneDepartment(approved.grant.department) }),
          );
          await insertLedger(q, approved.ledger);
        }
        return true;
      });
    },

    async createGrant(g: AccessGrant, by: string): Promise<void> {
      await insertGrant(run, g, by).catch(
        onMissingReference({ access_grants_department_fkey: noDepartment(g.department) }),
      );
    },
    /** Grants of these departments that have not ended and are not revoked (at `now`). */
    async activeGrants(departments: string[], now: Date): Promise<AccessGrant[]> {
      const r = await run(
        `SELECT * FROM access_grants WHERE department = ANY($1) AND revoked_at IS NULL
           AND valid_until > $2 AND valid_from <= $2 ORDER BY created_at, id`,
        [departments, now.toISOString()],
      );
      return r.rows.map(grantOf);
    },
    async listGrants(): Promise<(AccessGrant & { revoked: boolean })[]> {
      const r = await run('SELECT * FROM access_grants ORDER BY created_at, id');
      return r.rows.map((x) => ({ ...grantOf(x), revoked: x.revoked_at !== null }));
    },
    async revokeGrant(id: string): Promise<boolean> {
      const r = await run(
        'UPDATE access_grants SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
        [id],
      );
      return (r.rowCount ?? 0) > 0;
    },

    async appendLedger(e: LedgerEntry): Promise<void> {
      await insertLedger(run, e);
    },
    async listLedger(page: { limit: number; offset: number }): Promise<LedgerEntry[]> {
      const r = await run('SELECT * FROM access_sharing_ledger ORDER BY seq LIMIT $1 OFFSET $2', [
        page.limit,
        page.offset,
      ]);
      return r.rows.map((x) => ({
        seq: Number(x.seq),
        at: iso(x.at) as string,
        kind: x.kind as LedgerEntry['kind'],
        ...opt('datasetId', x.dataset_id as string | null),
        ...opt('requestId', x.request_id as string | null),
        ...opt('grantId', x.grant_id as string | null),
        tenant: x.tenant as string,
        entityType: x.entity_type as string,
        ...opt('ownerDepartment', x.owner_department as string | null),
        recipientDepartment: x.recipient_department as string,
        purpose: x.purpose as string,
        scale: Number(x.scale),
        ...opt('validUntil', iso(x.valid_until)),
        ...opt('actor', x.actor as string | null),
      }));
    },
  };
}

async function insertGrant(run: Run, g: AccessGrant, by: string): Promise<void> {
  await run(
    `INSERT INTO access_grants (id, department, tenant, entity_type, attrs, purpose, area, valid_from, valid_until,
       request_id, dataset_id, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [
      g.id,
      g.department,
      g.tenant,
      g.entityType,
      g.attrs ?? null,
      g.purpose,
      g.area ? JSON.stringify(g.area) : null,
      g.validFrom,
      g.validUntil,
      g.requestId ?? null,
      g.datasetId ?? null,
      by,
    ],
  );
}

async function insertLedger(run: Run, e: LedgerEntry): Promise<void> {
  await run(
    `INSERT INTO access_sharing_ledger (kind, dataset_id, request_id, grant_id, tenant, entity_type, owner_department,
       recipient_department, purpose, scale, valid_until, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [
      e.kind,
      e.datasetId ?? null,
      e.requestId ?? null,
      e.grantId ?? null,
      e.tenant,
      e.entityType,
      e.ownerDepartment ?? null,
      e.recipientDepartment,
      e.purpose,
      e.scale,
      e.validUntil ?? null,
      e.actor ?? null,
    ],
  );
}
