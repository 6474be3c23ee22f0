// Jenkins Job DSL seed script for a scalegrease job project: one job validates every
// change (`greaselaunch --check`), one publishes a signed bundle after each push to
// main. Run it from a seed job ("Process Job DSLs"); edit REPO and the store.
//
// Needs on the agents: greaselaunch on PATH and the store reachable. The signing key
// is a "Secret file" credential `scalegrease-signing-key` (from
// `greaselaunch --generate-key`; its .pub line goes into every worker's
// launch.trusted_keys).
def REPO = 'https://git.example.com/team/nightly-jobs.git'
def STORE = '/mnt/scalegrease/store'

job('nightly-jobs-check') {
    description('Validate the crontabs of every change (no store needed).')
    scm {
        git {
            remote { url(REPO) }
            branch('**')
        }
    }
    triggers { scm('H/5 * * * *') }
    steps {
        shell('greaselaunch --check')
    }
}

job('nightly-jobs-publish') {
    description('Publish the crontabs of main, signed, to the scalegrease store.')
    concurrentBuild(false)
    scm {
        git {
            remote { url(REPO) }
            branch('main')
        }
    }
    triggers { scm('H/5 * * * *') }
    environmentVariables(SCALEGREASE_STORE: STORE)
    wrappers {
        credentialsBinding {
            file('SCALEGREASE_SIGNING_KEY_FILE', 'scalegrease-signing-key')
        }
    }
    steps {
        shell('greaselaunch --check')
        shell('greaselaunch --signing-key "$SCALEGREASE_SIGNING_KEY_FILE"')
    }
}
