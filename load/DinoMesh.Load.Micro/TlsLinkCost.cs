using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using DinoMesh.Transport.Bulk;

namespace DinoMesh.Load.Micro;

/// <summary>
/// What moving bulk bytes through TLS 1.3 costs per cipher suite and per stream under the TLS: two <see cref="SslStream"/>s
/// over a loopback socket pair in this process, one writing 1 MiB at a time (as a served chunk goes out), the other
/// reading into a 1 MiB buffer (as a fetched chunk comes in). The figure is the process's CPU time per 256 MiB (user and
/// system, both ends and the kernel's loopback TCP), which on this shared machine is steadier than the wall time; the
/// wall time is printed beside it. Not a BenchmarkDotNet benchmark for that reason. Variants take turns in every round, so
/// a burst of load elsewhere hits each about equally. Bounded: <c>--rounds</c> rounds of <c>--mib</c> MiB per variant.
/// </summary>
internal static class TlsLinkCost
{
    private const int ChunkBytes = 1 << 20;

    private static readonly (string Name, TlsCipherSuite Suite)[] Suites =
    [
        ("aes128", TlsCipherSuite.TLS_AES_128_GCM_SHA256),
        ("aes256", TlsCipherSuite.TLS_AES_256_GCM_SHA384),
        ("chacha", TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256),
    ];

    public static int Run(string[] args)
    {
        var rounds = Option(args, "--rounds", 5);
        var mib = Option(args, "--mib", 256);
        var suites = Value(args, "--suites")?.Split(',') ?? ["aes128", "aes256"];
        var streams = Value(args, "--streams")?.Split(',') ?? ["bulk"];
        var variants = (from s in suites from t in streams select (Suite: Suites.Single(x => x.Name == s), Stream: t)).ToArray();

        using var certificate = Certificate();
        var cpu = variants.ToDictionary(v => v, _ => new List<double>());
        var wall = variants.ToDictionary(v => v, _ => new List<double>());
        Console.WriteLine($"load average at start: {File.ReadAllText("/proc/loadavg").Trim()}");
        // One unmeasured pass of each, so the JIT's tiers are settled before the first measured one.
        foreach (var variant in variants) MeasureAsync(certificate, variant.Suite.Suite, variant.Stream, 32L << 20).GetAwaiter().GetResult();
        if (args.Contains("--ciphers")) Ciphers(rounds, mib);
        for (var round = 0; round < rounds; round++)
        {
            foreach (var variant in variants)
            {
                var (cpuMs, wallMs, negotiated) = MeasureAsync(certificate, variant.Suite.Suite, variant.Stream, (long)mib << 20).GetAwaiter().GetResult();
                if (negotiated != variant.Suite.Suite) throw new InvalidOperationException($"asked for {variant.Suite.Suite}, negotiated {negotiated}");
                cpu[variant].Add(cpuMs * 256.0 / mib);
                wall[variant].Add(wallMs * 256.0 / mib);
                Console.WriteLine($"round {round + 1} {variant.Suite.Name,-7} {variant.Stream,-7} cpu {cpuMs * 256.0 / mib,6:F0} ms/256MiB  wall {wallMs * 256.0 / mib,6:F0} ms/256MiB");
            }
        }
        Console.WriteLine($"load average at end: {File.ReadAllText("/proc/loadavg").Trim()}");
        foreach (var variant in variants)
        {
            Console.WriteLine($"median {variant.Suite.Name,-7} {variant.Stream,-7} cpu {Median(cpu[variant]),6:F0} ms/256MiB  wall {Median(wall[variant]),6:F0} ms/256MiB  (cpu: {string.Join(' ', cpu[variant].Select(x => x.ToString("F0")))})");
        }
        return 0;
    }

    /// <summary>
    /// The AEAD alone (the same OpenSSL code the TLS record layer calls): 16 KiB records sealed, one thread, CPU per 256 MiB.
    /// Separates the cipher's own cost from the record layer, the copies and the sockets around it.
    /// </summary>
    private static void Ciphers(int rounds, int mib)
    {
        var record = new byte[16 * 1024];
        var sealedRecord = new byte[record.Length];
        var tag = new byte[16];
        var nonce = new byte[12];
        using var aes128 = new AesGcm(RandomNumberGenerator.GetBytes(16), 16);
        using var aes256 = new AesGcm(RandomNumberGenerator.GetBytes(32), 16);
        using var chacha = new ChaCha20Poly1305(RandomNumberGenerator.GetBytes(32));
        var seal = new (string Name, Action Seal)[]
        {
            ("aes128", () => aes128.Encrypt(nonce, record, sealedRecord, tag)),
            ("aes256", () => aes256.Encrypt(nonce, record, sealedRecord, tag)),
            ("chacha", () => chacha.Encrypt(nonce, record, sealedRecord, tag)),
        };
        var records = ((long)mib << 20) / record.Length;
        var results = seal.ToDictionary(s => s.Name, _ => new List<double>());
        for (var round = 0; round < rounds + 1; round++)
        {
            foreach (var (name, action) in seal)
            {
                var before = Process.GetCurrentProcess().TotalProcessorTime;
                for (long i = 0; i < records; i++) action();
                var ms = (Process.GetCurrentProcess().TotalProcessorTime - before).TotalMilliseconds * 256.0 / mib;
                if (round > 0) results[name].Add(ms);
            }
        }
        foreach (var (name, values) in results)
        {
            Console.WriteLine($"seal only {name,-7} cpu {Median(values),6:F0} ms/256MiB ({(256.0 / 1024) / (Median(values) / 1000):F2} GiB/s; {string.Join(' ', values.Select(x => x.ToString("F0")))})");
        }
    }

    private static async Task<(double CpuMs, double WallMs, TlsCipherSuite Negotiated)> MeasureAsync(X509Certificate2 certificate, TlsCipherSuite suite, string stream, long bytes)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var clientSocket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accepting = listener.AcceptAsync();
        await clientSocket.ConnectAsync(listener.LocalEndPoint!);
        var serverSocket = await accepting;
        clientSocket.NoDelay = serverSocket.NoDelay = true;

        var policy = new CipherSuitesPolicy([suite]);
        await using var reader = new SslStream(Under(clientSocket, stream));
        await using var writer = new SslStream(Under(serverSocket, stream));
        var serving = writer.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificate = certificate,
            EnabledSslProtocols = SslProtocols.Tls13,
            CipherSuitesPolicy = policy,
        });
        await reader.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "dinomesh",
            EnabledSslProtocols = SslProtocols.Tls13,
            CipherSuitesPolicy = policy,
            // The benchmark's own certificate, pinned as peers pin each other's keys.
            RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == certificate.GetCertHashString(),
        });
        await serving;

        var chunk = new byte[ChunkBytes];
        RandomNumberGenerator.Fill(chunk);
        var into = new byte[ChunkBytes];
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var writing = Task.Run(async () =>
        {
            for (long sent = 0; sent < bytes; sent += ChunkBytes) await writer.WriteAsync(chunk);
        });
        for (long received = 0; received < bytes;)
        {
            var filled = 0;
            while (filled < ChunkBytes)
            {
                var n = await reader.ReadAsync(into.AsMemory(filled));
                if (n == 0) throw new EndOfStreamException();
                filled += n;
            }
            received += filled;
        }
        await writing;
        var wallMs = clock.Elapsed.TotalMilliseconds;
        var cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds;
        return (cpuMs, wallMs, reader.NegotiatedCipherSuite);
    }

    /// <summary>The stream under each end's TLS: <c>bulk</c> as bulk connections have it, <c>direct</c> the same without its receive buffer, <c>socket</c> a plain <see cref="NetworkStream"/>.</summary>
    private static Stream Under(Socket socket, string stream) => stream switch
    {
        "bulk" => new BulkSocketStream(socket),
        "direct" => new StraightSocketStream(socket),
        "socket" => new NetworkStream(socket, ownsSocket: true),
        _ => throw new ArgumentException($"unknown stream {stream} (bulk, direct, socket)"),
    };

    private static X509Certificate2 Certificate()
    {
        // A P-256 key, as node certificates have (NodeIdentity).
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=dinomesh", key, HashAlgorithmName.SHA256);
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static int Option(string[] args, string name, int fallback) => Value(args, name) is { } v ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;

    private static string? Value(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
