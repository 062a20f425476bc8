export { describeRedirect, withCallbackParams } from './callback-url';
export { createExtensionAuth, type ApproveResult, type ExchangeResult, type ExtensionAuth } from './service';
