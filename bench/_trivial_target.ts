// A trivial target in a module of its own, with no imports: what a child
// must load beyond the library is then nothing.
export function noop(): void {}
