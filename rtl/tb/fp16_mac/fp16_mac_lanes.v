// fp16_mac_lanes: bench-only wrapper, LANES independent fp16_mac instances on packed buses so that
// one cocotb clock step feeds LANES products (LANES dot products run side by side).
//
// Parameters: LANES >= 1 instances (fp16_mac has none).
// Ports: clk, en, clr shared; a, b: lane i at [i*16 +: 16]; acc: lane i at [i*32 +: 32].
module fp16_mac_lanes #(
    parameter integer LANES = 32
) (
    input  wire                clk,
    input  wire                en,
    input  wire                clr,
    input  wire [LANES*16-1:0] a,
    input  wire [LANES*16-1:0] b,
    output wire [LANES*32-1:0] acc
);
    genvar i;
    generate
        for (i = 0; i < LANES; i = i + 1) begin : g_lane
            fp16_mac u_mac (.clk(clk), .en(en), .clr(clr), .a(a[i*16 +: 16]), .b(b[i*16 +: 16]),
                            .acc(acc[i*32 +: 32]));
        end
    endgenerate
endmodule
