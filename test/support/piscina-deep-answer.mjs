// A piscina task whose answer this thread (4 MB stack) can serialize and the main thread cannot read back: an
// object nested `depth` levels, as test/support/hostile-tasks.ts's 'post-unreadable' does for our pool. It sets
// `posted[0]` as it returns (piscina posts the answer right after; its idle thread then blocks in Atomics.wait,
// so nothing later in this thread would run).
export default function deepAnswer({ depth, posted }) {
  let node = { leaf: 1 };
  for (let i = 0; i < depth; i++) node = { a: node };
  Atomics.store(posted, 0, 1);
  return node;
}
