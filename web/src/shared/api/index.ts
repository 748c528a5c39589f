export * from './client'
export * from './message'
export type * from './types'
