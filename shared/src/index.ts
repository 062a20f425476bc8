export * from './chat';
export * from './errors';
export * from './keys';
export * from './usage';
export * from './extension';
export * from './admin';
