// The README's custom adapter (section "4. Custom Adapter"), exactly as the README writes it,
// registered as 'mycustom'. Its socket goes to 'wss://my-server.com': the tests send that
// address to a local relay (tests/p2p/json-relay.mjs) with Playwright's WebSocket routing.
// >>> seed: 4. Custom Adapter
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
// <<< seed
