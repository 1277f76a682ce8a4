/**
 * History writes inside the entity write's transaction (the HistoryTx port): instances appended
 * with their rollups, entity facts upserted, and the temporal provision's instance edits.
 */
import type { HistoryTx } from '../core/history-store.js';
import type { EntityRow, InstanceRow, Run } from './history-sql.js';
import { INSERT_INSTANCES, INSTANCE_COLUMNS, toEntity, toInstance, toRecord } from './history-sql.js';
import { ROLLUP_UPSERT, recomputeRollups } from './history-rollups.js';
import { hot } from './prepared.js';

/**
 * One row per entity id: a batch may change the same entity twice (an upsert listing it twice),
 * and one INSERT … ON CONFLICT cannot touch a row twice. The first creation time, the last state.
 */
function latestPerEntity(entities: Parameters<HistoryTx['append']>[1]) {
  const byId = new Map<
    string,
    {
      id: string;
      types: string[];
      scopes: string[] | null;
      c: string | undefined;
      m: string | undefined;
      x: string | null;
    }
  >();
  for (const e of entities) {
    const held = byId.get(e.id);
    byId.set(e.id, {
      id: e.id,
      types: e.types,
      scopes: e.scopes ?? null,
      c: held?.c ?? e.createdAt,
      m: e.modifiedAt,
      x: e.deletedAt ?? null,
    });
  }
  return [...byId.values()];
}

/** Entity facts ($2: JSON array): created once, then their types, scopes, modification, deletion. */
const UPSERT_ENTITIES =
  hot(`INSERT INTO history_entities AS h (tenant, id, types, scopes, created_at, modified_at, deleted_at)
  SELECT $1, x.id, x.types, x.scopes, x.c, x.m, x.x
  FROM jsonb_to_recordset($2::jsonb) AS x(id text, types text[], scopes text[], c timestamptz, m timestamptz, x timestamptz)
  ON CONFLICT (tenant, id) DO UPDATE SET types = EXCLUDED.types, scopes = EXCLUDED.scopes,
    modified_at = EXCLUDED.modified_at, deleted_at = EXCLUDED.deleted_at`);

/** Instances ($2) and their rollups in one statement: the instances in a data-modifying CTE. */
const APPEND_INSTANCES = hot(`WITH instances AS (${INSERT_INSTANCES} RETURNING 1) ${ROLLUP_UPSERT}`);

/** The same with the entity facts ($3) too. */
const APPEND_ALL = hot(`WITH facts AS (${UPSERT_ENTITIES.replace('$2::jsonb', '$3::jsonb')} RETURNING 1),
  instances AS (${INSERT_INSTANCES} RETURNING 1) ${ROLLUP_UPSERT}`);

/** History operations on one connection (inside a transaction for writes). */
export function historyTxOps(run: Run): HistoryTx {
  return {
    async append(tenant, entities, rows, opts) {
      const facts = entities.length > 0 ? JSON.stringify(latestPerEntity(entities)) : undefined;
      if (rows.length === 0) {
        if (facts) await run(UPSERT_ENTITIES, [tenant, facts]);
        return;
      }
      const records = JSON.stringify(rows.map(toRecord));
      if (!opts?.replaceSameObservedAt) {
        // The common case in one round trip: entity facts, instances and rollups.
        await run(
          facts ? APPEND_ALL : APPEND_INSTANCES,
          facts ? [tenant, records, facts] : [tenant, records],
        );
        return;
      }
      if (facts) await run(UPSERT_ENTITIES, [tenant, facts]);
      const r = await run<{ entity_id: string; attr: string }>(
        `DELETE FROM attribute_history h USING jsonb_to_recordset($2::jsonb) AS x(e text, a text, d text, o timestamptz)
         WHERE h.tenant = $1 AND h.entity_id = x.e AND h.attr = x.a AND h.dataset_id = x.d
           AND x.o IS NOT NULL AND h.ts = x.o AND h.observed_at = x.o
         RETURNING h.entity_id, h.attr`,
        [tenant, records],
      );
      const replaced = [...new Set(r.rows.map((x) => `${x.entity_id}\u0000${x.attr}`))].map(
        (k) => k.split('\u0000') as [string, string],
      );
      await run(INSERT_INSTANCES, [tenant, records]);
      if (replaced.length > 0) await recomputeRollups(run, { tenant, series: replaced });
      else await run(ROLLUP_UPSERT, [tenant, records]);
    },

    async getEntity(tenant, id) {
      const r = await run<EntityRow>(
        'SELECT id, types, scopes, created_at, modified_at, deleted_at FROM history_entities WHERE tenant = $1 AND id = $2',
        [tenant, id],
      );
      return r.rows[0] ? toEntity(r.rows[0]) : undefined;
    },

    async deleteEntity(tenant, id) {
      const a = await run('DELETE FROM attribute_history WHERE tenant = $1 AND entity_id = $2', [tenant, id]);
      await run('DELETE FROM history_rollups WHERE tenant = $1 AND entity_id = $2', [tenant, id]);
      const e = await run('DELETE FROM history_entities WHERE tenant = $1 AND id = $2', [tenant, id]);
      return (a.rowCount ?? 0) + (e.rowCount ?? 0) > 0;
    },

    async deleteAttribute(tenant, id, attr, which) {
      const params: unknown[] = [tenant, id, attr];
      const ds = which.all ? '' : ` AND dataset_id = $${params.push(which.datasetId ?? '')}`;
      const r = await run(
        `DELETE FROM attribute_history WHERE tenant = $1 AND entity_id = $2 AND attr = $3${ds}`,
        params,
      );
      await recomputeRollups(run, { tenant, series: [[id, attr]] });
      return r.rowCount ?? 0;
    },

    async getInstance(tenant, id, attr, instanceId) {
      const r = await run<InstanceRow>(
        `SELECT ${INSTANCE_COLUMNS} FROM attribute_history
         WHERE tenant = $1 AND entity_id = $2 AND attr = $3 AND instance_id = $4`,
        [tenant, id, attr, instanceId],
      );
      return r.rows[0] ? toInstance(r.rows[0]) : undefined;
    },

    async replaceInstance(tenant, row) {
      const del = await run(
        'DELETE FROM attribute_history WHERE tenant = $1 AND entity_id = $2 AND attr = $3 AND instance_id = $4',
        [tenant, row.entityId, row.attr, row.instanceId],
      );
      if ((del.rowCount ?? 0) === 0) return false;
      // Delete and insert: a changed observedAt may move the instance to another partition.
      await run(INSERT_INSTANCES, [tenant, JSON.stringify([toRecord(row)])]);
      await recomputeRollups(run, { tenant, series: [[row.entityId, row.attr]] });
      return true;
    },

    async deleteInstance(tenant, id, attr, instanceId) {
      const r = await run(
        'DELETE FROM attribute_history WHERE tenant = $1 AND entity_id = $2 AND attr = $3 AND instance_id = $4',
        [tenant, id, attr, instanceId],
      );
      if ((r.rowCount ?? 0) === 0) return false;
      await recomputeRollups(run, { tenant, series: [[id, attr]] });
      return true;
    },
  };
}
