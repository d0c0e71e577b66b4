// The README's custom adapter (seed-custom-adapter.js) telling the base class when its socket
// closes, so a lost relay connection is reconnected (maxReconnectAttempts, reconnectDelay) as
// with the built-in adapters. Registered as 'mycustom-reconnecting'.
class MyReconnectingAdapter extends MyCustomAdapter {
    async connect() {
        await super.connect();
        this.socket.onclose = () => this.connectionLost('relay connection closed');
    }

    // A socket the relay closed is CLOSING before its `close` event comes: a send then is lost,
    // and Chromium logs a warning for it. Until the event, the frame is refused instead.
    send(peerId, data) {
        return this.socket?.readyState === WebSocket.OPEN && super.send(peerId, data);
    }
}

AuroraDB.registerP2PAdapter('mycustom-reconnecting', MyReconnectingAdapter);
