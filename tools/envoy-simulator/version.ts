/**
 * The identity the simulator reports: one modern Envoy release. Every place that prints a version
 * (`--version`, `/server_info`, the `server.version` gauge, the crash backtrace) reads it here.
 */

/** The release the simulator claims to be (Envoy 1.3x, the behaviour docs/envoy-process.md describes). */
export const ENVOY_RELEASE = { major: 1, minor: 36, patch: 2 } as const;

/**
 * A made-up 40-hex-digit build SHA. Envoy derives the `server.version` gauge from the first six
 * hex digits of its SCM revision (`server.cc`: `atoull(revision().substr(0, 6), 16)`), so the
 * value only has to be valid hex.
 */
export const ENVOY_SHA = '5e1dcafe0b7d0c1e5a3f9d2b8c4e6a1f0d3b5c7e';

/** `<sha>/<x.y.z>/<Clean|Modified>/<RELEASE|DEBUG>/<ssl>`, as `VersionInfo::version()`. */
export const ENVOY_VERSION = `${ENVOY_SHA}/${ENVOY_RELEASE.major}.${ENVOY_RELEASE.minor}.${ENVOY_RELEASE.patch}/Clean/RELEASE/BoringSSL`;

/** `server.version`: the first six hex digits of the revision, read as an integer. */
export const SERVER_VERSION_GAUGE = Number.parseInt(ENVOY_SHA.slice(0, 6), 16);

/**
 * `HOT_RESTART_VERSION.sizeof(SharedMemory)`: 11 and a 104-byte struct on x86-64 glibc
 * (`hot_restart_impl.cc` `hotRestartVersion()`).
 */
export const HOT_RESTART_VERSION = '11.104';

/** What `--hot-restart-version` and `/hot_restart_version` print with `--disable-hot-restart`. */
export const HOT_RESTART_DISABLED = 'disabled';
