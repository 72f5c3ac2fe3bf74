/* A shallow-props memo (what preact/compat's `memo` does, without pulling in compat). */
import { Component, h, type ComponentChildren, type FunctionComponent } from "preact";

export function memo<P extends object>(render: FunctionComponent<P>): FunctionComponent<P> {
  class Memo extends Component<P> {
    override shouldComponentUpdate(next: P): boolean {
      const prev = this.props as Record<string, unknown>;
      const nextProps = next as Record<string, unknown>;
      for (const key in prev) if (!(key in nextProps)) return true;
      for (const key in nextProps) if (prev[key] !== nextProps[key]) return true;
      return false;
    }
    override render(): ComponentChildren {
      return h(render, this.props);
    }
  }
  (Memo as unknown as { displayName: string }).displayName = `memo(${render.displayName || render.name})`;
  return Memo as unknown as FunctionComponent<P>;
}
