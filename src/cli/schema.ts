/**
 * JSON Schema (draft 2020-12) of `shmsync ls --json` (and of each object in inspect/watch/gc
 * output). Exported so tests and tools validate against the same definition; docs/cli.md
 * describes the fields.
 */
const nullableInt = { type: ['integer', 'null'] };

const lock = {
  type: ['object', 'null'],
  additionalProperties: false,
  required: [
    'locked',
    'ownerId',
    'holder',
    'depth',
    'waiters',
    'waitersBit',
    'handoffTo',
    'ownerDeaths',
    'fence',
    'consistency',
    'policy',
    'ownerTableId',
  ],
  properties: {
    locked: { type: 'boolean' },
    ownerId: { type: 'integer', minimum: 0 },
    holder: {
      type: ['object', 'null'],
      additionalProperties: false,
      required: ['ownerId', 'pid', 'tid', 'threadId', 'alive', 'since', 'sinceExact'],
      properties: {
        ownerId: { type: 'integer' },
        pid: nullableInt,
        tid: nullableInt,
        threadId: nullableInt,
        alive: { type: ['boolean', 'null'] },
        since: { type: ['string', 'null'], pattern: String.raw`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$` },
        sinceExact: { type: ['boolean', 'null'] },
      },
    },
    depth: { type: 'integer', minimum: 0 },
    waiters: { type: 'integer', minimum: 0 },
    waitersBit: { type: 'boolean' },
    handoffTo: { type: 'integer', minimum: 0 },
    ownerDeaths: { type: 'integer', minimum: 0 },
    fence: { type: 'string', pattern: '^[0-9]+$' },
    consistency: { enum: ['consistent', 'inconsistent', 'notRecoverable', null] },
    policy: { enum: ['recover', 'strict', null] },
    ownerTableId: { type: 'string', pattern: '^[0-9a-f]+$' },
  },
};

/** The flag bits of a ring futex word (native/core/ring-wake.h). */
const wake = {
  type: 'object',
  additionalProperties: false,
  required: ['armed', 'wakeOwed'],
  properties: { armed: { type: 'boolean' }, wakeOwed: { type: 'boolean' } },
};

export const objectSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'file', 'kind', 'status', 'problem', 'size', 'uid', 'mode', 'modified', 'layoutVersion', 'users'],
  properties: {
    name: { type: 'string', minLength: 1 },
    file: { type: 'string', pattern: '^shmsync[-.]' },
    kind: { enum: ['raw', 'mutex', 'queue', 'owners', 'rwlock', 'value', 'array', 'tmp', 'unknown'] },
    status: { enum: ['ok', 'corrupt', 'unpublished'] },
    problem: { type: ['string', 'null'] },
    size: { type: 'integer', minimum: 0 },
    uid: { type: 'integer' },
    mode: { type: 'string', pattern: '^[0-7]{4}$' },
    modified: { type: ['string', 'null'] },
    layoutVersion: nullableInt,
    users: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['pid', 'command', 'how'],
        properties: { pid: { type: 'integer', minimum: 1 }, command: { type: 'string' }, how: { enum: ['map', 'fd'] } },
      },
    },
    lock,
    queue: {
      type: 'object',
      additionalProperties: false,
      required: [
        'capacity',
        'maxMessage',
        'depth',
        'bytesUsed',
        'bytesFree',
        'messagesIn',
        'messagesOut',
        'tail',
        'head',
        'ended',
        'producersWaiting',
        'consumersWaiting',
        'dataSeq',
        'dataWake',
        'spaceSeq',
        'spaceWake',
        'producerLock',
        'consumerLock',
      ],
      properties: {
        capacity: { type: ['integer', 'null'] },
        maxMessage: { type: 'integer' },
        depth: { type: 'integer', minimum: 0 },
        bytesUsed: { type: 'integer', minimum: 0 },
        bytesFree: { type: 'integer' },
        messagesIn: { type: 'string', pattern: '^[0-9]+$' },
        messagesOut: { type: 'string', pattern: '^[0-9]+$' },
        tail: { type: 'string', pattern: '^[0-9]+$' },
        head: { type: 'string', pattern: '^[0-9]+$' },
        ended: { type: 'boolean' },
        producersWaiting: { type: 'integer' },
        consumersWaiting: { type: 'integer' },
        dataSeq: { type: 'integer', minimum: 0, maximum: 0x3fffffff },
        dataWake: wake,
        spaceSeq: { type: 'integer', minimum: 0, maximum: 0x3fffffff },
        spaceWake: wake,
        producerLock: lock,
        consumerLock: lock,
      },
    },
    owners: {
      type: 'object',
      additionalProperties: false,
      required: ['tableId', 'live', 'dead'],
      properties: {
        tableId: { type: 'string' },
        dead: { type: 'integer', minimum: 0 },
        live: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['slot', 'ownerId', 'pid', 'tid', 'threadId'],
            properties: {
              slot: { type: 'integer' },
              ownerId: { type: 'integer' },
              pid: { type: 'integer' },
              tid: { type: 'integer' },
              threadId: { type: 'integer' },
            },
          },
        },
      },
    },
    value: {
      type: 'object',
      additionalProperties: false,
      required: ['holds'],
      properties: {
        holds: { enum: ['value', 'array'] },
        type: { type: 'string' },
        length: { type: 'integer' },
        lock: { type: ['string', 'null'] },
        lockCreatedWithObject: { type: 'boolean' },
      },
    },
  },
};

export const lsSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://shmsync.dev/schema/ls.json',
  type: 'object',
  additionalProperties: false,
  required: ['dir', 'objects', 'unreadable', 'unscannedProcesses'],
  properties: {
    dir: { type: 'string' },
    objects: { type: 'array', items: objectSchema },
    unreadable: { type: 'array', items: { type: 'string' } },
    unscannedProcesses: { type: 'integer', minimum: 0 },
  },
};
