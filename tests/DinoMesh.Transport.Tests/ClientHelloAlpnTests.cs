using System.Net.Security;
using System.Security.Authentication;
using DinoMesh.Transport.Bulk;
using DinoMesh.Transport.Lean;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// The listener's reading of a ClientHello's ALPN ids, on ClientHellos this runtime's own TLS client writes (captured
/// from an <see cref="SslStream"/> whose peer never answers), cut short, and on bytes that are no ClientHello.
/// </summary>
public class ClientHelloAlpnTests
{
    private static readonly byte[] Bulk = BulkWire.Alpn.Protocol.ToArray();

    [Fact]
    public async Task Only_a_ClientHello_that_offers_the_bulk_id_alone_is_taken_for_the_bulk_path()
    {
        var ct = TestContext.Current.CancellationToken;
        Assert.Equal(AlpnOffer.Only, ClientHelloAlpn.OffersOnly(await CaptureAsync([BulkWire.Alpn], ct), Bulk));
        Assert.Equal(AlpnOffer.Other, ClientHelloAlpn.OffersOnly(await CaptureAsync([SslApplicationProtocol.Http2], ct), Bulk));
        Assert.Equal(AlpnOffer.Other, ClientHelloAlpn.OffersOnly(await CaptureAsync([LeanWire.Alpn], ct), Bulk));
        Assert.Equal(AlpnOffer.Other, ClientHelloAlpn.OffersOnly(await CaptureAsync([BulkWire.Alpn, SslApplicationProtocol.Http2], ct), Bulk));
        Assert.Equal(AlpnOffer.Other, ClientHelloAlpn.OffersOnly(await CaptureAsync(null, ct), Bulk));
    }

    [Fact]
    public async Task A_ClientHello_cut_anywhere_needs_more_and_extra_bytes_after_it_change_nothing()
    {
        var hello = await CaptureAsync([BulkWire.Alpn], TestContext.Current.CancellationToken);
        for (var length = 0; length < hello.Length; length++)
        {
            Assert.Equal(AlpnOffer.NeedMore, ClientHelloAlpn.OffersOnly(hello.AsSpan(0, length), Bulk));
        }
        Assert.Equal(AlpnOffer.Only, ClientHelloAlpn.OffersOnly([.. hello, .. new byte[100]], Bulk));
    }

    [Fact]
    public void Bytes_that_are_no_ClientHello_go_to_the_general_path()
    {
        Assert.Equal(AlpnOffer.Other, ClientHelloAlpn.OffersOnly("PRI * HTTP/2.0\r\n"u8, Bulk));
        Assert.Equal(AlpnOffer.Other, ClientHelloAlpn.OffersOnly([22, 3, 3, 0xFF, 0xFF], Bulk)); // a record larger than TLS allows
        Assert.Equal(AlpnOffer.Other, ClientHelloAlpn.OffersOnly([22, 3, 3, 0, 4, 2, 0, 0, 0], Bulk)); // a handshake that is no ClientHello
        Assert.Equal(AlpnOffer.Other, ClientHelloAlpn.OffersOnly([22, 3, 3, 0, 4, 1, 0, 0, 9], Bulk)); // a ClientHello longer than its record
        Assert.Equal(AlpnOffer.NeedMore, ClientHelloAlpn.OffersOnly([22], Bulk));
    }

    [Fact]
    public async Task A_ClientHello_whose_lengths_lie_is_never_taken_for_the_bulk_path()
    {
        var hello = await CaptureAsync([BulkWire.Alpn], TestContext.Current.CancellationToken);
        // Every single byte of the handshake message changed in turn: the reader must not throw or read past the end.
        // (A change inside the random, say, still leaves a valid bulk offer: only the verdict's safety is asserted.)
        for (var i = ClientHelloAlpn.RecordHeaderSize; i < hello.Length; i++)
        {
            var bent = hello.ToArray();
            bent[i] ^= 0xFF;
            var offer = ClientHelloAlpn.OffersOnly(bent, Bulk);
            Assert.True(offer is AlpnOffer.Only or AlpnOffer.Other or AlpnOffer.NeedMore);
        }
    }

    /// <summary>The first bytes a TLS 1.3 client of this runtime writes when it offers <paramref name="alpn"/>.</summary>
    internal static async Task<byte[]> CaptureAsync(List<SslApplicationProtocol>? alpn, CancellationToken ct)
    {
        var wire = new CaptureStream();
        using var tls = new SslStream(wire);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var handshake = tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "dinomesh",
            EnabledSslProtocols = SslProtocols.Tls13,
            ApplicationProtocols = alpn,
        }, stop.Token);
        var hello = await wire.FirstWrite.WaitAsync(TimeSpan.FromSeconds(10), ct);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => handshake);
        return hello;
    }

    /// <summary>Keeps the first write; a read waits until cancelled (a server that never answers).</summary>
    private sealed class CaptureStream : Stream
    {
        private readonly TaskCompletionSource<byte[]> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<byte[]> FirstWrite => _first.Task;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => _first.TrySetResult(buffer.AsSpan(offset, count).ToArray());

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _first.TrySetResult(buffer.ToArray());
            return ValueTask.CompletedTask;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
