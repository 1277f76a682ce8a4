/**
 * The entity a notification carries for one change (NGSI-LD §5.3.1 Notification `data`, §5.8.6):
 * the entity as it now is, in the subscription's format and attribute selection; deleted attributes
 * with the NGSI-LD Null value; a deleted entity as id, type and deletedAt; with showChanges, the
 * previous values of what changed.
 */
import type { ActiveContext } from '../context/active-context.js';
import { NGSI_NULL } from '../entity-input.js';
import { VALUE_MEMBER, type StoredAttribute } from '../entity-model.js';
import { renderAttribute, renderEntity, type RenderOptions, type Rendered } from '../entity-output.js';
import type { ChangeInput, TriggerResult } from './change-trigger.js';
import type { Subscription } from './subscription-model.js';

/** Where a previous value goes, per value member (NGSI-LD §4.5 showChanges). */
const PREVIOUS_MEMBER: Record<string, string> = {
  value: 'previousValue',
  object: 'previousObject',
  languageMap: 'previousLanguageMap',
  vocab: 'previousVocab',
  json: 'previousJson',
  valueList: 'previousValueList',
  objectList: 'previousObjectList',
};

/** Render options for a subscription's notifications. */
export function notificationRenderOptions(sub: Subscription): RenderOptions {
  const n = sub.notification;
  const ro: RenderOptions = { format: n.format, sysAttrs: n.sysAttrs };
  if (n.attributes) ro.only = new Set(n.attributes);
  if (n.pick) {
    ro.only = new Set(n.pick.filter((m) => m !== 'id' && m !== 'type'));
    ro.hideId = !n.pick.includes('id');
    ro.hideType = !n.pick.includes('type');
  }
  if (n.omit) {
    ro.omit = new Set(n.omit.filter((m) => m !== 'id' && m !== 'type'));
    ro.hideId = n.omit.includes('id');
    ro.hideType = n.omit.includes('type');
  }
  if (sub.datasetId) ro.datasetIds = new Set(sub.datasetId);
  if (sub.lang !== undefined) ro.lang = sub.lang;
  return ro;
}

/** The notification `data` element for one change. `at` is the time of the change. */
export function notificationEntity(
  sub: Subscription,
  change: ChangeInput,
  fired: TriggerResult,
  ctx: ActiveContext,
  ro: RenderOptions,
  at: string,
): Rendered {
  const showChanges = sub.notification.showChanges;
  const wanted = (iri: string) => (!ro.only || ro.only.has(iri)) && !ro.omit?.has(iri);
  if (change.kind === 'deleted' || !change.after) {
    const before = change.before;
    const out: Rendered = {};
    if (!ro.hideId) out.id = before?.id;
    if (!ro.hideType && before) {
      const types = before.types.map((t) => ctx.compact(t));
      out.type = types.length === 1 ? types[0] : types;
    }
    if (ro.sysAttrs && before) {
      if (before.createdAt) out.createdAt = before.createdAt;
      if (before.modifiedAt) out.modifiedAt = before.modifiedAt;
    }
    out.deletedAt = at;
    // entityDeleted tells only that the entity is gone, unless the previous values are asked for.
    if (fired.trigger === 'attributeDeleted' || showChanges) {
      for (const [iri, list] of fired.deleted) {
        if (wanted(iri)) putDeleted(out, iri, list, ctx, ro, showChanges, at, true);
      }
    }
    return out;
  }
  const out = renderEntity(change.after, ctx, ro);
  // keyValues leaves system attributes out of entity bodies; a notification asked for them.
  if (ro.sysAttrs && ro.format === 'keyValues') {
    if (change.after.createdAt) out.createdAt = change.after.createdAt;
    if (change.after.modifiedAt) out.modifiedAt = change.after.modifiedAt;
  }
  if (showChanges && change.before) {
    for (const iri of fired.updated) {
      if (!wanted(iri)) continue;
      addPrevious(out, iri, change.before.attrs[iri] ?? [], change.after.attrs[iri] ?? [], ctx, ro);
    }
  }
  for (const [iri, list] of fired.deleted) {
    if (!wanted(iri)) continue;
    // An attribute gone as a whole is shown once, whatever instances it had.
    const left = change.after.attrs[iri];
    let whole = list;
    if (!left && list[0]) {
      const { datasetId: _, ...shown } = list[0];
      whole = [shown];
    }
    putDeleted(
      out,
      iri,
      whole,
      ctx,
      ro,
      showChanges,
      at,
      false,
      left?.length === 1 ? left[0]?.datasetId : undefined,
    );
  }
  return out;
}

/** Adds the deleted instances of an attribute, valued NGSI-LD Null, beside any it still has. */
function putDeleted(
  out: Rendered,
  iri: string,
  gone: StoredAttribute[],
  ctx: ActiveContext,
  ro: RenderOptions,
  showChanges: boolean,
  at: string,
  entityGone: boolean,
  remainingId?: string,
): void {
  const name = ctx.compact(iri);
  if (ro.format === 'keyValues') {
    const held = out[name];
    if (held === undefined) {
      out[name] = NGSI_NULL;
      return;
    }
    // Some instances remain: the simplified multi-attribute form, the gone ones valued Null.
    const dataset: Record<string, unknown> = isDatasetForm(held)
      ? { ...held.dataset }
      : { [remainingId ?? '@none']: held };
    for (const inst of gone) dataset[inst.datasetId ?? '@none'] = NGSI_NULL;
    out[name] = { dataset };
    return;
  }
  const rendered = gone.map((inst) => {
    const member = VALUE_MEMBER[inst.type];
    const r: Rendered = { type: inst.type };
    // As the ETSI suite reads them: a deleted LanguageProperty of a live entity is a language map.
    r[member] = inst.type === 'LanguageProperty' && !entityGone ? { '@none': NGSI_NULL } : NGSI_NULL;
    if (showChanges) r[PREVIOUS_MEMBER[member] ?? 'previousValue'] = previousOf(inst, ctx, ro);
    if (inst.datasetId !== undefined) r.datasetId = inst.datasetId;
    if (ro.sysAttrs) {
      if (inst.createdAt) r.createdAt = inst.createdAt;
      if (inst.modifiedAt) r.modifiedAt = inst.modifiedAt;
      r.deletedAt = at;
    }
    return r;
  });
  const held = out[name];
  const all = [...(held === undefined ? [] : Array.isArray(held) ? held : [held]), ...rendered];
  out[name] = all.length === 1 ? all[0] : all;
}

function addPrevious(
  out: Rendered,
  iri: string,
  was: StoredAttribute[],
  now: StoredAttribute[],
  ctx: ActiveContext,
  ro: RenderOptions,
): void {
  if (ro.format === 'keyValues') return;
  const name = ctx.compact(iri);
  const held = out[name];
  const list = Array.isArray(held) ? held : [held];
  now.forEach((inst, i) => {
    const old = was.find((w) => w.datasetId === inst.datasetId);
    const target = list[i];
    if (!old || typeof target !== 'object' || target === null) return;
    const member = VALUE_MEMBER[old.type];
    (target as Rendered)[PREVIOUS_MEMBER[member] ?? 'previousValue'] = previousOf(old, ctx, ro);
  });
}

function previousOf(inst: StoredAttribute, ctx: ActiveContext, ro: RenderOptions): unknown {
  const r = renderAttribute(inst, ctx, { ...ro, format: 'normalized', sysAttrs: false, inline: undefined });
  const member = VALUE_MEMBER[inst.type];
  return (r as Rendered)[member];
}

function isDatasetForm(v: unknown): v is { dataset: Record<string, unknown> } {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && 'dataset' in v && Object.keys(v).length === 1
  );
}
