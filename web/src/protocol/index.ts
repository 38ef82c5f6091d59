// The e2ee-v1 protocol (docs/protocol.md) in TypeScript: pure functions, no I/O.
export * from './bytes';
export * from './errors';
export * from './primitives';
export * from './x3dh';
export * from './ratchet';
export * from './senderKey';
export * from './envelope';
export * from './media';
export * from './safetyNumber';
export * from './searchToken';
export * from './records';
