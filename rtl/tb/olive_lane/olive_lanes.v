// olive_lanes: bench-only wrapper, LANES independent olive_lane instances on packed buses so that
// one cocotb clock step feeds LANES pairs (LANES dot products run side by side).
//
// Parameters: BITS, OUT_EXP_BITS, NORMALS, BIAS_INT, BIAS_FLINT, ACT_BITS, ACC_BITS as in
// rtl/olive_lane.v; LANES >= 1 instances.
// Ports: clk, en, clr, flint  shared by every lane;
//        w           LANES pairs of 2 BITS bits, lane i at [i*2*BITS +: 2*BITS];
//        x_hi, x_lo  LANES activations of ACT_BITS bits, lane i at [i*ACT_BITS +: ACT_BITS];
//        acc         LANES accumulators, lane i at [i*ACC_BITS +: ACC_BITS];
//        bad         LANES sticky illegal-pair flags, lane i at bit i.
module olive_lanes #(
    parameter integer BITS         = 4,
    parameter integer OUT_EXP_BITS = 2,
    parameter integer NORMALS      = 3,
    parameter integer BIAS_INT     = 2,
    parameter integer BIAS_FLINT   = 3,
    parameter integer ACT_BITS     = 8,
    parameter integer ACC_BITS     = 32,
    parameter integer LANES        = 32
) (
    input  wire                         clk,
    input  wire                         en,
    input  wire                         clr,
    input  wire                         flint,
    input  wire [LANES*2*BITS-1:0]      w,
    input  wire [LANES*ACT_BITS-1:0]    x_hi,
    input  wire [LANES*ACT_BITS-1:0]    x_lo,
    output wire [LANES*ACC_BITS-1:0]    acc,
    output wire [LANES-1:0]             bad
);
    genvar i;
    generate
        for (i = 0; i < LANES; i = i + 1) begin : g_lane
            olive_lane #(.BITS(BITS), .OUT_EXP_BITS(OUT_EXP_BITS), .NORMALS(NORMALS), .BIAS_INT(BIAS_INT),
                         .BIAS_FLINT(BIAS_FLINT), .ACT_BITS(ACT_BITS), .ACC_BITS(ACC_BITS)) u_lane (
                .clk(clk), .en(en), .clr(clr), .flint(flint), .w(w[i*2*BITS +: 2*BITS]),
                .x_hi(x_hi[i*ACT_BITS +: ACT_BITS]), .x_lo(x_lo[i*ACT_BITS +: ACT_BITS]),
                .acc(acc[i*ACC_BITS +: ACC_BITS]), .bad(bad[i]));
        end
    endgenerate
endmodule
