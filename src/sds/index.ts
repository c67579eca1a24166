/**
 * The SDS runtime, as SDS mode loads it (through `load.ts`): the transport and the secrets. In the
 * bundled agent this module and everything it imports (grpc-js included) is a file of its own,
 * `dist/pilot-agent-sds.mjs` (tools/bundle.ts). The bootstrap fragment (`bootstrap.ts`) is not
 * here: it is plain data the bootstrap generator imports directly.
 */
export type { AnyMessage, DiscoveryRequest, DiscoveryResponse } from './messages.js';
export { SECRET_TYPE_URL } from './messages.js';
export type { MountedCerts, SecretReading, SecretSource, WithheldReason } from './secrets.js';
export {
  buildSecret,
  ROOT_SECRET,
  readSecret,
  SecretResource,
  secretSource,
  sourceFiles,
  WORKLOAD_SECRET,
} from './secrets.js';
export type { SdsServer, SdsServerOptions, SdsStream, SdsStreamEnd } from './server.js';
export { DEFAULT_SDS_SOCKET_PATH, SdsSocketError, startSdsServer } from './server.js';
