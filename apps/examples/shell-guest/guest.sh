#!/bin/sh
# A guest that is not a Node module: the fleet runs this script as a command,
# with the arguments it names and the environment every guest gets
# (FROCTAL_MANAGER_URL, FROCTAL_INSTANCE_ID, FROCTAL_TOKEN). Any program that
# speaks the agent protocol could be exec'd here; this one is the agent
# program built from src/agent.ts, on the node found on the guest's PATH.
set -eu
echo "shell guest $FROCTAL_INSTANCE_ID: $# arguments, manager $FROCTAL_MANAGER_URL, token ${FROCTAL_TOKEN:+given}"
exec node "$(dirname "$0")/dist/agent.js" "$@"
