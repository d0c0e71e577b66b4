// The object a transaction callback receives: `tx.entries` reads, writes and deletes records
// through the transaction handle, like a plain object (`await tx.entries[key]`,
// `tx.entries[key] = value`, `delete tx.entries[key]`), plus the same as methods.

// Property names a caller's code may probe on any object (promise resolution, conversions,
// inspection): reading them gives `undefined` instead of a read of a record with that name.
// Such records are still reachable with `tx.get(name)`.
const PROBES = new Set(['then', 'toJSON', 'constructor', 'valueOf', 'toString', 'inspect']);

export function makeTransactionView(handle) {
    // What the view refuses by itself is refused as the handle refuses (an `InvalidInputError`,
    // dispatched as an `error` event too).
    const refuse = (why) => {
        throw handle.refuse(why);
    };
    // `key in tx.entries`, `Object.keys(tx.entries)` and the like must answer at once, and whether
    // a record exists needs a read: they throw rather than answer from an empty object.
    const unreadable = (what) => () =>
        refuse(`${what} cannot read the records: use await tx.get(key) (undefined when absent) or db.keys()`);
    const entries = new Proxy(Object.create(null), {
        has: unreadable('`in` on tx.entries'),
        ownKeys: unreadable('listing tx.entries'),
        getOwnPropertyDescriptor: unreadable('a property descriptor of tx.entries'),
        get(_target, prop) {
            if (typeof prop !== 'string' || PROBES.has(prop)) return undefined;
            return handle.get(prop);
        },
        set(_target, prop, value) {
            if (typeof prop !== 'string') {
                refuse('a key must be a string, not a symbol');
            }
            handle.put(prop, value);
            return true;
        },
        deleteProperty(_target, prop) {
            if (typeof prop !== 'string') return true;
            handle.remove(prop);
            return true;
        },
        defineProperty(_target, prop, descriptor) {
            if (typeof prop !== 'string' || !('value' in descriptor)) {
                refuse('records are set by assignment');
            }
            handle.put(prop, descriptor.value);
            return true;
        },
    });
    return Object.freeze({
        entries,
        get: (key) => handle.get(key),
        put: (key, value) => handle.put(key, value),
        set: (key, value) => handle.put(key, value),
        add(keyOrValue, value) {
            // biome-ignore lint/complexity/noArguments: the arity tells add(value) from add(key, undefined)
            if (arguments.length < 2) return handle.add(keyOrValue);
            handle.put(keyOrValue, value);
            return keyOrValue;
        },
        remove: (key) => handle.remove(key),
        delete: (key) => handle.remove(key),
    });
}
