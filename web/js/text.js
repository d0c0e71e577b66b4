// Short ASCII strings read straight from the engine's memory: most strings a record holds (keys,
// names, tags) are a few ASCII bytes, for which a text decoder's fixed cost per call is most of
// the work. `useMemory` is given the module's memory once; its buffer is read at each call, as
// it changes when the memory grows.

let memory = null;

export function useMemory(m) {
  memory = m;
}

export function asciiString(ptr, len) {
  return String.fromCharCode.apply(null, new Uint8Array(memory.buffer, ptr, len));
}
