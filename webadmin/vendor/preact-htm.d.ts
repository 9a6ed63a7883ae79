// Types of the one library the WebAdmin loads, /admin/vendor/preact-htm.js (htm's preact
// bundle, served from node_modules by src/admin/web/assets.ts), for the type check of the
// browser modules (webadmin/tsconfig.json). htm's own .d.ts imports the `preact` package, which
// the bundle inlines and the project does not install, so the parts the pages use are declared
// here as preact 10 and htm 3 define them. An htm template is a string to the compiler, so
// the props written in it are not checked against the component (the components' own JSDoc
// types are checked inside them); its values are `unknown`, so every handler in a template
// types its own parameter (webadmin/events.js).

export interface VNode {
  readonly type: unknown;
  readonly props: unknown;
  readonly key: unknown;
}

/** htm bound to preact's h(): a template with one root is a VNode, with several an array. */
export declare const html: (strings: TemplateStringsArray, ...values: unknown[]) => VNode;
export declare function render(tree: VNode, parent: Element): void;

export type StateUpdater<S> = (value: S | ((previous: S) => S)) => void;
export declare function useState<S>(initial: S | (() => S)): [S, StateUpdater<S>];

type EffectCallback = () => void | (() => void);
export declare function useEffect(effect: EffectCallback, inputs?: readonly unknown[]): void;
export declare function useCallback<T extends (...args: never[]) => unknown>(
  callback: T,
  inputs: readonly unknown[],
): T;
