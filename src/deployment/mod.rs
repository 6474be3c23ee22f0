//! Deployment: getting the job's fat jar onto the worker. Artifact specs (a local path or
//! Maven coordinates), Maven version resolution, verified downloads and the local cache.
