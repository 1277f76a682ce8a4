/**
 * One line per operation for /openapi.json and /docs, keyed by `METHOD url` as the route is
 * registered. Everything else about a route (its tag, who may call it, its query parameters, its
 * path parameters) is read from the route itself (server/openapi.ts); a route missing here is
 * still documented, under its method and path. test/api/openapi.test.ts fails on a key that names
 * no registered route, so that a renamed route does not leave its line behind.
 */
export const SUMMARIES: Readonly<Record<string, string>> = {
  // operations
  'GET /': 'The operations dashboard (web/)',
  'GET /health': 'Liveness: 200 once the hub and its database answer',
  'GET /metrics': 'Metrics in the Prometheus text format',
  'GET /openapi.json': 'This document (OpenAPI 3.1)',
  'GET /docs': 'The API reference page (Swagger UI, served by the hub itself)',

  // NGSI-LD entities
  'POST /ngsi-ld/v1/entities': 'Create Entity',
  'GET /ngsi-ld/v1/entities': 'Query Entities',
  'DELETE /ngsi-ld/v1/entities': 'Purge Entities (by type, id, q…)',
  'PUT /ngsi-ld/v1/entities': 'Not allowed: replacing an entity needs its id (400)',
  'PATCH /ngsi-ld/v1/entities': 'Not allowed: merging an entity needs its id (400)',
  'GET /ngsi-ld/v1/entities/:entityId': 'Retrieve Entity',
  'PUT /ngsi-ld/v1/entities/:entityId': 'Replace Entity',
  'PATCH /ngsi-ld/v1/entities/:entityId': 'Merge Entity',
  'DELETE /ngsi-ld/v1/entities/:entityId': 'Delete Entity',
  'POST /ngsi-ld/v1/entities/:entityId/attrs': 'Append Entity Attributes',
  'PATCH /ngsi-ld/v1/entities/:entityId/attrs': 'Update Entity Attributes',
  'DELETE /ngsi-ld/v1/entities/:entityId/attrs': 'Not allowed: deleting an attribute needs its name (405)',
  'PATCH /ngsi-ld/v1/entities/:entityId/attrs/:attrId': 'Partial Attribute Update',
  'PUT /ngsi-ld/v1/entities/:entityId/attrs/:attrId': 'Replace Attribute',
  'DELETE /ngsi-ld/v1/entities/:entityId/attrs/:attrId': 'Delete Attribute',
  'GET /api/v1/export': 'Export the entities a query selects, as one download',
  'POST /api/v1/environment/aqi':
    'The air quality index (AQI, IAQI, primary pollutants, level) of concentrations, by HJ 633',
  'POST /api/v1/environment/water-class':
    'The surface-water class (I–V, 劣V) of a sample and the items that decide it, by GB 3838-2002',
  'POST /api/v1/environment/noise':
    'The equivalent noise level, the zone limit and the exceedance, by GB 3096-2008',
  'POST /api/v1/traffic/tpi':
    'The traffic performance index (DTP, TPI, level) of road links and their network, by GB/T 33171-2016',
  'GET /api/v1/energy/units':
    'The key energy-using units of the tenant with their consumption, quota use, intensity and anomaly flag',
  'POST /api/v1/energy/consumption':
    'Consumption per local hour, day or month (kWh and tce) from cumulative meter readings',
  'GET /api/v1/traffic/route':
    'The fastest route between two points at the current travel times (GeoJSON Feature: path, length, time, free-flow time, segments)',
  'GET /api/v1/parking/nearest':
    'Car parks with at least N free spaces, nearest first by distance or by travel time',

  // NGSI-LD batch operations
  'POST /ngsi-ld/v1/entityOperations/create': 'Batch Entity Creation',
  'POST /ngsi-ld/v1/entityOperations/upsert': 'Batch Entity Upsert',
  'POST /ngsi-ld/v1/entityOperations/update': 'Batch Entity Update',
  'POST /ngsi-ld/v1/entityOperations/merge': 'Batch Entity Merge',
  'POST /ngsi-ld/v1/entityOperations/delete': 'Batch Entity Delete',
  'POST /ngsi-ld/v1/entityOperations/query': 'Query Entities (query in the body)',

  // NGSI-LD temporal
  'GET /ngsi-ld/v1/temporal/entities': 'Query Temporal Evolution of Entities',
  'POST /ngsi-ld/v1/temporal/entityOperations/query':
    'Query Temporal Evolution of Entities (query in the body)',
  'GET /ngsi-ld/v1/temporal/entities/:entityId': 'Retrieve Temporal Evolution of an Entity',
  'POST /ngsi-ld/v1/temporal/entities': 'Create or Update Temporal Representation of an Entity',
  'DELETE /ngsi-ld/v1/temporal/entities': 'Not allowed: deleting a temporal entity needs its id (405)',
  'DELETE /ngsi-ld/v1/temporal/entities/:entityId': 'Delete Temporal Representation of an Entity',
  'POST /ngsi-ld/v1/temporal/entities/:entityId/attrs':
    'Add Attributes to Temporal Representation of an Entity',
  'DELETE /ngsi-ld/v1/temporal/entities/:entityId/attrs/:attrId':
    'Delete Attribute from Temporal Representation of an Entity',
  'PATCH /ngsi-ld/v1/temporal/entities/:entityId/attrs/:attrId':
    'Not allowed: modifying an instance needs its instance id (405)',
  'PATCH /ngsi-ld/v1/temporal/entities/:entityId/attrs/:attrId/:instanceId': 'Modify Attribute Instance',
  'DELETE /ngsi-ld/v1/temporal/entities/:entityId/attrs/:attrId/:instanceId': 'Delete Attribute Instance',

  // NGSI-LD subscriptions, notifications, the live stream
  'POST /ngsi-ld/v1/subscriptions': 'Create Subscription',
  'GET /ngsi-ld/v1/subscriptions': 'Query Subscriptions',
  'GET /ngsi-ld/v1/subscriptions/:id': 'Retrieve Subscription',
  'PATCH /ngsi-ld/v1/subscriptions/:id': 'Update Subscription',
  'DELETE /ngsi-ld/v1/subscriptions/:id': 'Delete Subscription',
  'PATCH /ngsi-ld/v1/subscriptions/': 'Not allowed: updating a subscription needs its id (405)',
  'DELETE /ngsi-ld/v1/subscriptions/': 'Not allowed: deleting a subscription needs its id (405)',
  'GET /api/v1/notifications': 'Notifications not delivered yet (pending) or given up (failed)',
  'POST /api/v1/notifications/replay': 'Send given-up notifications again',
  'GET /api/v1/stream': 'Live entity changes as Server-Sent Events',

  // NGSI-LD discovery
  'GET /ngsi-ld/v1/types': 'Retrieve Available Entity Types',
  'GET /ngsi-ld/v1/types/:type': 'Retrieve Details of an Entity Type',
  'GET /ngsi-ld/v1/attributes': 'Retrieve Available Attributes',
  'GET /ngsi-ld/v1/attributes/:attrId': 'Retrieve Details of an Attribute',

  // @context documents
  'GET /ngsi-ld/v1/jsonldContexts': 'List @contexts',
  'POST /ngsi-ld/v1/jsonldContexts': 'Add @context (hosted by the hub)',
  'GET /ngsi-ld/v1/jsonldContexts/:contextId': 'Serve @context',
  'DELETE /ngsi-ld/v1/jsonldContexts/:contextId': 'Delete @context (or reload a cached one)',

  // sign-in
  'POST /api/v1/auth/login': 'Log in with a username and password (and a TOTP code): a session token',
  'POST /api/v1/auth/logout': 'End the session of the token sent',
  'GET /api/v1/auth/me': 'Who the credentials sent belong to',
  'GET /api/v1/auth/jwks': 'The public keys of the session tokens (JWKS)',
  'POST /api/v1/auth/password': 'Change your own password',
  'POST /api/v1/auth/totp': 'Start setting up TOTP (a new secret)',
  'POST /api/v1/auth/totp/confirm': 'Finish setting up TOTP with a first code',

  // access administration
  'GET /api/v1/departments': 'List departments',
  'POST /api/v1/departments': 'Create a department',
  'PATCH /api/v1/departments/:id': 'Change a department',
  'DELETE /api/v1/departments/:id': 'Delete a department',
  'GET /api/v1/users': 'List user accounts',
  'POST /api/v1/users': 'Create a user account',
  'PATCH /api/v1/users/:id': 'Change a user account',
  'DELETE /api/v1/users/:id': 'Delete a user account',
  'POST /api/v1/users/:id/password': "Reset a user's password",
  'POST /api/v1/users/:id/unlock': 'Unlock an account locked after failed logins',
  'DELETE /api/v1/users/:id/totp': "Remove a user's TOTP (to set it up again)",
  'GET /api/v1/api-keys': 'List API keys',
  'POST /api/v1/api-keys': 'Create an API key (shown once)',
  'DELETE /api/v1/api-keys/:id': 'Revoke an API key',
  'GET /api/v1/policies': 'List access policies',
  'POST /api/v1/policies': 'Create an access policy',
  'DELETE /api/v1/policies/:id': 'Delete an access policy',
  'GET /api/v1/password-policy': 'The password policy',
  'PUT /api/v1/password-policy': 'Change the password policy',
  'GET /api/v1/catalog': 'The data catalog (sensitivity and masking of attributes)',
  'PUT /api/v1/catalog': 'Set the sensitivity of an attribute',
  'DELETE /api/v1/catalog': 'Remove an attribute from the catalog',
  'GET /api/v1/security/metrics': 'Security event counters in the Prometheus text format',

  // data sharing
  'GET /api/v1/grants': 'List data-sharing grants',
  'POST /api/v1/grants': 'Grant a department access to data for a purpose',
  'DELETE /api/v1/grants/:id': 'Revoke a grant',
  'GET /api/v1/datasets': 'List published datasets',
  'POST /api/v1/datasets': 'Publish a dataset of your department',
  'DELETE /api/v1/datasets/:id': 'Withdraw a dataset',
  'POST /api/v1/datasets/:id/requests': 'Ask for access to a dataset',
  'GET /api/v1/share-requests': 'Share requests made by or to your department',
  'POST /api/v1/share-requests/:id/approve': 'Approve a share request (grants access)',
  'POST /api/v1/share-requests/:id/deny': 'Deny a share request',
  'GET /api/v1/sharing-ledger': 'The sharing ledger: grants and reads under them',

  // audit
  'GET /api/v1/audit': 'Read the audit log',
  'GET /api/v1/audit/verify': "Verify the audit log's hash chain",
  'GET /api/v1/audit/export': 'Export the audit log',

  // IoT
  'GET /iot/about': 'IoT Agent information',
  'GET /iot/services': 'List config groups',
  'POST /iot/services': 'Provision config groups',
  'PUT /iot/services': 'Change a config group (apikey and resource in the query)',
  'DELETE /iot/services': 'Delete a config group (apikey and resource in the query)',
  'GET /iot/devices': 'List devices',
  'POST /iot/devices': 'Provision devices',
  'GET /iot/devices/:deviceId': 'Retrieve a device',
  'GET /iot/devices/:deviceId/quarantine': "A device's readings refused by its schema",
  'PUT /iot/devices/:deviceId': 'Change a device',
  'POST /iot/devices/:deviceId/password': 'Give a device a new secret (shown once)',
  'DELETE /iot/devices/:deviceId': 'Delete a device',
  'POST /iot/json': 'Readings of a device, as JSON (southbound HTTP)',
  'POST /iot/d': 'Readings of a device, as Ultralight 2.0 text (southbound HTTP)',
  'GET /api/v1/iot/stats': 'Devices and readings of the tenant: counts and health',
};
