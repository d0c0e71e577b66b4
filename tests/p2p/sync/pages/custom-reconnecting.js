// The README's custom adapter (seed-custom-adapter.js) telling the base class when its socket
// closes, so a lost relay connection is reconnected (maxReconnectAttempts, reconnectDelay) as
// with the built-in adapters. Registered as 'mycustom-reconnecting'.
class MyReconnectingAdapter extends MyCustomAdapter {
    async connect() {
        await super.connect();
        this.socket.onclose = () => this.connectionLost('relay connection closed');
    }
}

AuroraDB.registerP2PAdapter('mycustom-reconnecting', MyReconnectingAdapter);
