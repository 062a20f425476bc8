export { createAuthenticator, type Authenticator, type Principal } from './authenticate';
export { createGatewayHandler, gatewayRoute, type GatewayDeps } from './handler';
export { providers, type ProviderName } from './providers';
export { createModelCatalog, type ModelCatalog } from './resolve-model';
export { createUpstreamClient, UpstreamCredential, type UpstreamClient } from './upstream';
export { readBodyText, readJson, type BodyRefusal, type RawBody } from './read-body';
