// The executable's entry point. Built into a V8 start-up snapshot (build/build.mjs), every
// module of the bundle is evaluated on the build machine and start() runs when the snapshot is
// deserialised at boot; run any other way (tests, `node build/run.mjs`), start() runs at once.
import v8 from 'node:v8'
import { start } from './main.js'

if (v8.startupSnapshot?.isBuildingSnapshot()) v8.startupSnapshot.setDeserializeMainFunction(start)
else start()
