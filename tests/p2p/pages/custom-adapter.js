// The README's custom adapter, as the README writes it. The one change: the relay URL comes
// from the config (p2pConfig.url) instead of 'wss://my-server.com'.

import * as p2p from '/p2p/index.js';

const AuroraDB = {
  P2PAdapter: p2p.P2PAdapter,
  registerP2PAdapter: p2p.registerP2PAdapter,
  listP2PAdapters: p2p.listP2PAdapters,
};

export class MyCustomAdapter extends AuroraDB.P2PAdapter {
    async connect() {
        // Initialize connection
        this.socket = new WebSocket(this.config.p2pConfig.url);
        
        this.socket.onopen = () => {
            this.isConnected = true;
            this.emit('open', this.getId());
        };
        
        this.socket.onmessage = (event) => {
            const data = JSON.parse(event.data);
            this.emit('message', {
                from: data.from,
                data: data.payload,
                connection: this.socket
            });
        };
    }
    
    send(peerId, data) {
        if (this.socket && this.isConnected) {
            this.socket.send(JSON.stringify({
                to: peerId,
                from: this.getId(),
                payload: data
            }));
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

/**
 * The same adapter, telling the base class when its socket drops, so a lost relay connection
 * reconnects by itself (maxReconnectAttempts, reconnectDelay).
 */
export class MyReconnectingAdapter extends MyCustomAdapter {
    async connect() {
        await super.connect();
        this.socket.onclose = () => this.connectionLost('relay connection closed');
    }
}

AuroraDB.registerP2PAdapter('mycustom-reconnecting', MyReconnectingAdapter);
