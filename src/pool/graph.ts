/**
 * The task graph of a {@link Pool} (seed `async.graph`, SEMANTICS.md §2.4): nodes that know their
 * neighbours, directed edges `u → v` ("v reads what u writes"), and the walk the pool uses to
 * find what a read must compute first. Meant for small graphs (the seed says "not more than 10
 * nodes"); every operation is linear in the nodes it visits.
 *
 * Upstream behaviour kept on purpose (its tests assert it):
 * - `addEdge(u, v)` is a no-op when the two nodes are already connected in either direction;
 * - the "cycle" check rejects any edge whose ends are already related by ancestry, so besides
 *   real cycles it rejects transitive shortcut edges (chain a→b→c, `addEdge(a, c)` throws), while
 *   a diamond a→b, a→c, b→d, c→d is accepted;
 * - `inputInclusiveDfirstReversed(node)` is a reversed stack DFS over the inputs: the node comes
 *   last, a chain comes out in dependency order, a diamond does not (harmless in a Pool, where a
 *   task has at most one input).
 *
 * Runs on the thread that owns the pool (not thread-safe, like the seed's Pool).
 */
import { GraphCycleError } from '../errors';

/** A node of a {@link Graph}: an id and its neighbour lists (maintained by the graph). */
export class Node {
  /** The node's id (anything printable). */
  id: unknown;
  /** Nodes with an edge into this one (its inputs). */
  inNodes: Node[] = [];
  /** Nodes this one has an edge to (its outputs). */
  outNodes: Node[] = [];

  constructor(id: unknown = null) {
    this.id = id;
  }

  toString(): string {
    return String(this.id);
  }
}

/** A directed graph of {@link Node}s (seed `async.graph.Graph`). */
export class Graph<N extends Node = Node> {
  /** The nodes, in insertion order. */
  readonly nodes: N[] = [];

  /** Adds `node` and returns it. */
  addNode<T extends N>(node: T): T {
    this.nodes.push(node);
    return node;
  }

  /** Whether `node` is part of this graph. */
  has(node: N): boolean {
    return this.nodes.includes(node);
  }

  /**
   * Removes `node` and every edge touching it (its neighbours forget it, its own lists are
   * emptied). A node that is not in the graph is ignored, so removing twice is fine. Returns this.
   */
  removeNode(node: N): this {
    const at = this.nodes.indexOf(node);
    if (at < 0) return this;
    this.nodes.splice(at, 1);
    for (const out of node.outNodes) removeOnce(out.inNodes, node);
    for (const inp of node.inNodes) removeOnce(inp.outNodes, node);
    node.outNodes = [];
    node.inNodes = [];
    return this;
  }

  /**
   * Adds the directed edge `u → v` and returns this. Already connected (either direction): no
   * change. Throws GraphCycleError (`SHMSYNC_GRAPH_CYCLE`) for `u === v` and when either node is
   * an ancestor of the other (a cycle, or a transitive shortcut edge).
   */
  addEdge(u: N, v: N): this {
    if (u === v) throw new GraphCycleError(`cannot connect a node with itself (${String(u)})`);
    if ((v.inNodes.includes(u) && u.outNodes.includes(v)) || (u.inNodes.includes(v) && v.outNodes.includes(u))) {
      return this;
    }
    for (const [start, end] of [
      [u, v],
      [v, u],
    ] as const) {
      if (isAncestor(end, start)) {
        throw new GraphCycleError(`connecting ${String(u)} with ${String(v)} would create a cycle`);
      }
    }
    u.outNodes.push(v);
    v.inNodes.push(u);
    return this;
  }

  /**
   * All nodes `node` depends on (following inputs), depth first, reversed: `node` comes last,
   * each node once. For a chain this is the order the pool evaluates in.
   */
  inputInclusiveDfirstReversed(node: N): N[] {
    const stack: Node[] = [node];
    const seen = new Set<Node>();
    const out: N[] = [];
    while (stack.length > 0) {
      const n = stack.pop() as Node;
      if (seen.has(n)) continue;
      seen.add(n);
      out.push(n as N);
      stack.push(...n.inNodes);
    }
    return out.reverse();
  }
}

/** Whether `candidate` is reached by walking the inputs of `start` (start itself excluded). */
function isAncestor(candidate: Node, start: Node): boolean {
  const stack = [...start.inNodes];
  const seen = new Set<Node>();
  while (stack.length > 0) {
    const n = stack.pop() as Node;
    if (seen.has(n)) continue;
    seen.add(n);
    if (n === candidate) return true;
    stack.push(...n.inNodes);
  }
  return false;
}

function removeOnce(list: Node[], node: Node): void {
  const at = list.indexOf(node);
  if (at >= 0) list.splice(at, 1);
}
