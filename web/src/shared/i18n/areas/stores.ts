// The messages of one area of the front end, in both languages; spread into zh-CN.ts and en.ts.
// Every key of zh must exist in en (checked by a test).
export const zh = {}
export const en: typeof zh = {}
