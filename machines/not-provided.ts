/**
 * The placeholder a machine names for an effect the runtime provides (`.provide()`): calling it
 * means the runtime forgot one, which is a bug, said as such.
 */
export const notProvided = (name: string) => () => {
  throw new Error(`${name} is not provided: the runtime must .provide() it`);
};
