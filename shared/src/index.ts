export * from './chat';
export * from './errors';
export * from './keys';
export * from './usage';
