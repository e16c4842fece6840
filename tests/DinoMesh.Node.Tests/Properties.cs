// Clusters bind fixed addresses, create network namespaces and load a 2-core machine with several daemons each:
// one test at a time, so a test's timing measures the protocol, not its neighbours.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

// The suite drives Linux processes, FUSE and iproute2; it runs only on Linux.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
