/**
 * Shows a stored Subscription to a client (NGSI-LD §5.8.3, §5.8.4): names compacted with the
 * request's @context, status and the notification's delivery state added.
 */
import type { ActiveContext } from '../context/active-context.js';
import { mapTypeExpr, parseTypeExpr } from '../query/type-expr.js';
import { printTypeExpr } from './subscription-input.js';
import { statusOf, type Subscription, type SubscriptionState } from './subscription-model.js';

export function renderSubscription(
  sub: Subscription,
  state: SubscriptionState,
  ctx: ActiveContext,
  opts: { sysAttrs: boolean; now: string },
): Record<string, unknown> {
  const out: Record<string, unknown> = { id: sub.id, type: 'Subscription' };
  if (sub.subscriptionName !== undefined) out.subscriptionName = sub.subscriptionName;
  if (sub.description !== undefined) out.description = sub.description;
  if (sub.entities) {
    out.entities = sub.entities.map((e) => {
      const sel: Record<string, unknown> = {};
      if (e.id !== undefined) sel.id = e.id;
      if (e.idPattern !== undefined) sel.idPattern = e.idPattern;
      if (e.type !== undefined)
        sel.type = printTypeExpr(mapTypeExpr(parseTypeExpr(e.type), (t) => ctx.compact(t)));
      return sel;
    });
  }
  if (sub.watchedAttributes) out.watchedAttributes = sub.watchedAttributes.map((a) => ctx.compact(a));
  out.notificationTrigger = sub.notificationTrigger ?? ['attributeCreated', 'attributeUpdated'];
  if (sub.timeInterval !== undefined) out.timeInterval = sub.timeInterval;
  if (sub.q !== undefined) out.q = sub.q;
  if (sub.geoQ) {
    const g: Record<string, unknown> = {
      geometry: sub.geoQ.geometry,
      coordinates: sub.geoQ.coordinates,
      georel: sub.geoQ.georel,
    };
    if (sub.geoQ.geoproperty !== undefined) g.geoproperty = ctx.compact(sub.geoQ.geoproperty);
    out.geoQ = g;
  }
  if (sub.scopeQ !== undefined) out.scopeQ = sub.scopeQ;
  if (sub.isActive !== undefined) out.isActive = sub.isActive;
  if (sub.expiresAt !== undefined) out.expiresAt = sub.expiresAt;
  if (sub.throttling !== undefined) out.throttling = sub.throttling;
  if (sub.lang !== undefined) out.lang = sub.lang;
  if (sub.datasetId) out.datasetId = sub.datasetId;
  if (sub.jsonldContext !== undefined) out.jsonldContext = sub.jsonldContext;
  const n = sub.notification;
  const notification: Record<string, unknown> = {};
  if (n.attributes) notification.attributes = n.attributes.map((a) => ctx.compact(a));
  notification.format = n.simplified ? 'simplified' : n.format;
  const member = (m: string) => (m === 'id' || m === 'type' ? m : ctx.compact(m));
  if (n.pick) notification.pick = n.pick.map(member);
  if (n.omit) notification.omit = n.omit.map(member);
  if (n.sysAttrs) notification.sysAttrs = true;
  if (n.showChanges) notification.showChanges = true;
  if (n.join !== undefined) notification.join = n.join;
  if (n.joinLevel !== undefined) notification.joinLevel = n.joinLevel;
  const endpoint: Record<string, unknown> = { uri: n.endpoint.uri, accept: n.endpoint.accept };
  if (n.endpoint.timeout !== undefined) endpoint.timeout = n.endpoint.timeout;
  if (n.endpoint.receiverInfo) endpoint.receiverInfo = n.endpoint.receiverInfo;
  if (n.endpoint.notifierInfo) endpoint.notifierInfo = n.endpoint.notifierInfo;
  notification.endpoint = endpoint;
  if (state.lastNotification !== undefined) {
    const failing =
      state.lastFailure !== undefined &&
      (state.lastSuccess === undefined || state.lastFailure > state.lastSuccess);
    notification.status = failing ? 'failed' : 'ok';
  }
  if (state.timesSent > 0) notification.timesSent = state.timesSent;
  if (state.timesFailed > 0) notification.timesFailed = state.timesFailed;
  if (state.lastNotification !== undefined) notification.lastNotification = state.lastNotification;
  if (state.lastSuccess !== undefined) notification.lastSuccess = state.lastSuccess;
  if (state.lastFailure !== undefined) notification.lastFailure = state.lastFailure;
  out.notification = notification;
  out.status = statusOf(sub, opts.now);
  if (opts.sysAttrs) {
    out.createdAt = sub.createdAt;
    out.modifiedAt = sub.modifiedAt;
  }
  return out;
}
