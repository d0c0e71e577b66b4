// Examples of the seed README (the original JavaScript API contract), type-checked as a page's
// JavaScript against the global `AuroraDB` of the classic script (checkJs, tsconfig.json). Each
// example sits in a block of its own, as the README writes it (reformatted only); the lines
// before an example give it what the README takes from the examples before it. Never run.

export {};

// README: Basic Usage
{
  // Create a local database
  const db = new AuroraDB({
    name: 'myapp',
    version: 1,
    keyPath: 'id',
  });

  await db.create();

  // Add data
  await db.add('user1', {
    name: 'Alice',
    email: 'alice@example.com',
    role: 'developer',
  });

  // Get data
  const user = await db.get('user1');

  // Query data
  const developers = await db.filter((user) => user.role === 'developer');
}

// README: Batch Operations
{
  const db = new AuroraDB({ name: 'batch' });
  // Atomic transactions
  await db.transaction(async (db) => {
    db.entries['user1'] = { name: 'Alice', role: 'admin' };
    db.entries['user2'] = { name: 'Bob', role: 'user' };
    delete db.entries['user3'];
    // All operations succeed or fail together
  });

  // Batch inserts (for IDBStore instances)
  const entries = [
    ['key1', { name: 'Alice' }],
    ['key2', { name: 'Bob' }],
    ['key3', { name: 'Charlie' }],
  ];
  await db.db.batchSet(entries);
}

// README: 4. Custom Adapter
{
  class MyCustomAdapter extends AuroraDB.P2PAdapter {
    async connect() {
      // Initialize connection
      this.socket = new WebSocket('wss://my-server.com');

      this.socket.onopen = () => {
        this.isConnected = true;
        this.emit('open', this.getId());
      };

      this.socket.onmessage = (event) => {
        const data = JSON.parse(event.data);
        this.emit('message', {
          from: data.from,
          data: data.payload,
          connection: this.socket,
        });
      };
    }

    send(peerId, data) {
      if (this.socket && this.isConnected) {
        this.socket.send(
          JSON.stringify({
            to: peerId,
            from: this.getId(),
            payload: data,
          }),
        );
        return true;
      }
      return false;
    }

    broadcast(data) {
      return this.send('*', data) ? 1 : 0;
    }

    async listPeers() {
      // Return array of peer IDs
      return [];
    }

    async connectToPeer(peerId) {
      // Return connection object
      return this.socket;
    }

    async disconnect() {
      if (this.socket) {
        this.socket.close();
      }
      this.isConnected = false;
    }

    async destroy() {
      await this.disconnect();
    }
  }

  // Register custom adapter
  AuroraDB.registerP2PAdapter('mycustom', MyCustomAdapter);

  // Use custom adapter
  const db = new AuroraDB({
    name: 'myapp',
    distributed: true,
    p2pAdapter: 'mycustom',
    p2pConfig: {
      customOption: 'value',
    },
  });
}

// README: Debugging
{
  // Enable detailed logging
  const db = new AuroraDB({
    name: 'debug-app',
    distributed: true,
    debug: true, // Enable debug mode
  });

  // Monitor all events
  ['open', 'close', 'error', 'change', 'sync', 'connection', 'disconnect'].forEach((event) => {
    db.addEventListener(event, (e) => {
      console.log(`[${event}]`, e.detail || 'triggered');
    });
  });

  // Database introspection
  console.log('Database Stats:', db.getStats());
  console.log('Available Adapters:', AuroraDB.listP2PAdapters());
}

// README: Validation & Data Integrity
{
  // Custom validation
  class ValidatedDB extends AuroraDB {
    async add(key, data) {
      // Validate before adding
      if (!this.validateData(data)) {
        throw new Error('Invalid data format');
      }

      // Add timestamp and version
      const enhancedData = {
        ...data,
        createdAt: new Date().toISOString(),
        version: 1,
      };

      return super.add(key, enhancedData);
    }

    validateData(data) {
      // Implement your validation logic
      return data && typeof data === 'object';
    }
  }

  const db = new ValidatedDB({
    name: 'validated-app',
    distributed: true,
  });
}

// README: Data Sanitization
{
  // AuroraDB automatically sanitizes data, but you can add extra validation
  const db = new AuroraDB({ name: 'secure-app' });

  // Override beforeSet for additional security
  db.db.beforeSet = (key, value) => {
    // Remove dangerous properties
    const sanitized = { ...value };
    delete sanitized.__proto__;
    delete sanitized.constructor;

    // Validate key format
    if (!/^[a-zA-Z0-9_-]+$/.test(key)) {
      throw new Error('Invalid key format');
    }

    // Escape HTML content
    if (sanitized.content) {
      sanitized.content = escapeHtml(sanitized.content);
    }

    return sanitized;
  };

  function escapeHtml(text) {
    const div = document.createElement('div');
    div.textContent = text;
    return div.innerHTML;
  }
}

// README: Access Control
{
  class SecureDB extends AuroraDB {
    constructor(config, userPermissions) {
      super(config);
      this.userPermissions = userPermissions;
    }

    async add(key, data) {
      if (!this.canWrite(key)) {
        throw new Error('Write access denied');
      }
      return super.add(key, data);
    }

    async get(key) {
      if (!this.canRead(key)) {
        throw new Error('Read access denied');
      }
      return super.get(key);
    }

    canRead(key) {
      return this.userPermissions.read.includes(key) || this.userPermissions.admin;
    }

    canWrite(key) {
      return this.userPermissions.write.includes(key) || this.userPermissions.admin;
    }
  }

  const db = new SecureDB(
    { name: 'secure-app', distributed: true },
    {
      read: ['public_*'],
      write: ['user_data_*'],
      admin: false,
    },
  );
}

// README: 3. Offline-First E-commerce
{
  const inventoryDB = new AuroraDB({
    name: 'inventory-system',
    distributed: true,
    syncStrategy: 'version', // Prevent inventory conflicts
  });

  await inventoryDB.create();

  // Add product
  await inventoryDB.add('prod1', {
    name: 'Laptop',
    price: 999.99,
    stock: 50,
    version: 1,
  });

  // Purchase (with conflict handling)
  async function purchaseProduct(productId, quantity) {
    try {
      await inventoryDB.transaction(async (db) => {
        const product = await db.entries[productId];
        if (product.stock >= quantity) {
          product.stock -= quantity;
          product.version += 1;
          db.entries[productId] = product;
        } else {
          throw new Error('Insufficient stock');
        }
      });
    } catch (error) {
      console.error('Purchase failed:', error);
    }
  }
}
