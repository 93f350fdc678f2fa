/**
 * The values of an aggregate in order, for max, min and percentiles: a treap
 * (a binary search tree kept balanced by random heap priorities) whose nodes
 * count their subtree, so the k-th value is found in O(log n) and a value
 * moves in O(log n), at 100 instances or 100,000. Equal values are told apart
 * by a per-node id, so a node is always found again by its (key, id).
 * Priorities come from a seeded generator, so a replay builds the same tree.
 */

export interface OrderNode {
  /** The value this node is filed under (changed only while the node is out of the tree). */
  key: number;
  readonly id: number;
  readonly priority: number;
  size: number;
  left: OrderNode | undefined;
  right: OrderNode | undefined;
}

export class Order {
  private root: OrderNode | undefined;
  private ids = 0;
  private seed = 0x9e3779b9;

  get size(): number {
    return this.root?.size ?? 0;
  }

  /** A node for one more value; it counts once inserted. */
  node(key: number): OrderNode {
    return { key, id: ++this.ids, priority: this.random(), size: 1, left: undefined, right: undefined };
  }

  insert(node: OrderNode): void {
    node.size = 1;
    node.left = undefined;
    node.right = undefined;
    this.root = insert(this.root, node);
  }

  /** Takes out a node that is in the tree (found by its key and id). */
  remove(node: OrderNode): void {
    this.root = without(this.root, node);
  }

  /** The value of rank `k` (0-based, ascending); the caller keeps k within 0 .. size - 1. */
  at(k: number): number {
    let n = this.root;
    while (n !== undefined) {
      const left = n.left?.size ?? 0;
      if (k < left) n = n.left;
      else if (k === left) return n.key;
      else {
        k -= left + 1;
        n = n.right;
      }
    }
    return Number.NaN;
  }

  clear(): void {
    this.root = undefined;
  }

  /** xorshift32: cheap, deterministic, and random enough to keep a treap balanced. */
  private random(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed;
  }
}

/** Whether `a` is ordered before (key, id). NaN sorts first, so a bad sample cannot break the order. */
function before(a: OrderNode, key: number, id: number): boolean {
  const x = Number.isNaN(a.key) ? Number.NEGATIVE_INFINITY : a.key;
  const y = Number.isNaN(key) ? Number.NEGATIVE_INFINITY : key;
  return x < y || (x === y && a.id < id);
}

function size(n: OrderNode | undefined): number {
  return n?.size ?? 0;
}

function resize(n: OrderNode): OrderNode {
  n.size = size(n.left) + size(n.right) + 1;
  return n;
}

/**
 * Puts `node` where it belongs: down the path while the nodes there outrank
 * it, then the subtree it lands on is split around it. No allocation.
 */
function insert(n: OrderNode | undefined, node: OrderNode): OrderNode {
  if (n === undefined) return node;
  if (node.priority > n.priority) {
    split(n, node.key, node.id);
    node.left = lower;
    node.right = upper;
    return resize(node);
  }
  n.size++;
  if (before(n, node.key, node.id)) n.right = insert(n.right, node);
  else n.left = insert(n.left, node);
  return n;
}

/** split()'s results: the nodes ordered before (key, id), and the rest (two values, no array allocated). */
let lower: OrderNode | undefined;
let upper: OrderNode | undefined;

function split(n: OrderNode | undefined, key: number, id: number): void {
  if (n === undefined) {
    lower = undefined;
    upper = undefined;
  } else if (before(n, key, id)) {
    split(n.right, key, id);
    n.right = lower;
    lower = resize(n);
  } else {
    split(n.left, key, id);
    n.left = upper;
    upper = resize(n);
  }
}

/** Joins two trees where every node of `a` is ordered before every node of `b`. */
function merge(a: OrderNode | undefined, b: OrderNode | undefined): OrderNode | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a.priority >= b.priority) {
    a.right = merge(a.right, b);
    return resize(a);
  }
  b.left = merge(a, b.left);
  return resize(b);
}

function without(n: OrderNode | undefined, node: OrderNode): OrderNode | undefined {
  if (n === undefined) return undefined;
  if (n === node) return merge(n.left, n.right);
  if (before(n, node.key, node.id)) n.right = without(n.right, node);
  else n.left = without(n.left, node);
  return resize(n);
}
