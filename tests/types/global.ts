// The classic script's declarations (pkg/auroradb.d.ts: the global `AuroraDB`, as
// scripts/build-web.sh writes it; tests/types/pkg/auroradb.d.ts is the same text, and the `js`
// step checks they agree) as a page that loads `<script src="auroradb.js">` uses them. Nothing is
// imported here: everything comes from the global. Checked by `npx tsc -p tsconfig.json`.

export {};

const db = new AuroraDB({ name: 'myapp', version: 1, keyPath: 'id' });
// The global is a value and a type: `AuroraDB` names the instance type, as a class does.
const typed: AuroraDB = db;
const same: InstanceType<typeof AuroraDB> = new window.AuroraDB({ name: 'myapp' });
const fromGlobalThis: typeof AuroraDB = globalThis.AuroraDB;
void [typed, same, fromGlobalThis];

async function page(): Promise<void> {
  await AuroraDB.init();
  await db.create();
  const key: string = await db.add('user1', { name: 'Alice', email: 'alice@example.com', role: 'developer' });
  const user = await db.get('user1');
  const developers = await db.filter((u) => u.role === 'developer');
  const names: string[] = AuroraDB.listP2PAdapters();
  void [key, user, developers, names];

  db.addEventListener('sync', (event) => console.log('Synced with', event.detail.sent, 'peers'));
  // @ts-expect-error a sync report counts peers, it does not list them
  db.addEventListener('sync', (event) => event.detail.peers.length);

  class Adapter extends AuroraDB.P2PAdapter {
    async connect(): Promise<void> {
      this.isConnected = true;
      this.emit('open', this.getId());
    }
    send(_peerId: string, _data: Uint8Array): boolean {
      return false;
    }
    broadcast(_data: Uint8Array): number {
      return 0;
    }
    async disconnect(): Promise<void> {
      this.isConnected = false;
    }
  }
  AuroraDB.registerP2PAdapter('mine', Adapter);
  const error = new AuroraDB.P2PError('network', 'lost');
  const type: string = error.type;
  void type;

  // @ts-expect-error the global is the class: `new AuroraDB(config)`, not a call
  AuroraDB({ name: 'x' });
  // @ts-expect-error the class has no `open()`: create() opens the database
  await db.open();
}

void page;
