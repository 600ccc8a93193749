#!/usr/bin/env -S node --max-semi-space-size=4
// The `offload-server` command: the built CLI. A file of its own, present before the build, so that npm links the
// command when it installs the workspace (npm links only bin targets that exist).
require("../dist/cli.js");
