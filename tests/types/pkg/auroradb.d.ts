// The global `AuroraDB` defined by the classic script auroradb.js.
import type { AuroraDB as AuroraDBClass } from './auroradb.mjs';

declare global {
    var AuroraDB: typeof AuroraDBClass;
    type AuroraDB = AuroraDBClass;
}

export {};
