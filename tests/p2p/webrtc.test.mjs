// The 'webrtc' adapter in headless Chromium, signaling through servers/signaling.mjs.
// Run inside a loopback-only network namespace (scripts/p2p-test.sh does).

import test, { after, before } from 'node:test';
import { FAST, FAST_P2P, launchBrowser, signalingScript, startPageServer, startProcess } from './helpers.mjs';
import { rtcScenario } from './rtc-scenario.mjs';

let pages;
let browser;
let signaling;

before(async () => {
  pages = await startPageServer();
  browser = await launchBrowser();
  signaling = await startProcess(signalingScript);
});

after(async () => {
  await browser?.close();
  await pages?.close();
  await signaling?.stop();
});

test("'webrtc' adapter: data channels through our signaling server", { timeout: 240_000 }, async (t) => {
  await rtcScenario(t, {
    browser,
    origin: pages.origin,
    name: 'webrtc',
    config: (peerId, extra = {}) => ({
      name: 'webrtc-test',
      peerId,
      ...FAST,
      ...extra,
      p2pConfig: { ...FAST_P2P, signalingServer: signaling.url, rtcConfig: { iceServers: [] } },
    }),
    restartServer: async () => {
      signaling = await signaling.restart();
    },
    dropServer: (label) => window.h.adapter(label).ws.close(),
  });
});
