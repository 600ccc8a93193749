#!/usr/bin/env node
// The `offloadctl` command: the built CLI. A file of its own, present before the build, so that npm links the
// command when it installs the workspace (npm links only bin targets that exist).
require("../dist/offloadctl/offloadctl.js");
