// Objects the engine builds field by field (records, values, events). A field set from the
// engine through `Reflect.set` goes through the glue's exception catcher, whose `arguments`
// handling cost more than the set itself; these cannot throw: the objects are plain ones the
// engine just made, and a `__proto__` field is defined by the engine as an own property instead.

export function setField(object, name, value) {
  object[name] = value;
}

/** A `state` store record: the key, the readable value and the encoded record. */
export function stateRecord(key, value, record) {
  return { key, value, record };
}

/** A `state` store record of a deleted key (a tombstone the conflict strategy keeps). */
export function deletedRecord(key, record) {
  return { key, deleted: true, record };
}
