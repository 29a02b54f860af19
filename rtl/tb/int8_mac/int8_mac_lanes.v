// int8_mac_lanes: bench-only wrapper, LANES independent int8_mac instances on packed buses so that
// one cocotb clock step feeds LANES products (LANES dot products run side by side).
//
// Parameters: A_BITS, B_BITS, ACC_BITS as in rtl/int8_mac.v; LANES >= 1 instances.
// Ports: clk, en, clr shared; a, b: lane i at [i*A_BITS +: A_BITS] / [i*B_BITS +: B_BITS];
//        acc: lane i at [i*ACC_BITS +: ACC_BITS].
module int8_mac_lanes #(
    parameter integer A_BITS   = 8,
    parameter integer B_BITS   = 8,
    parameter integer ACC_BITS = 32,
    parameter integer LANES    = 32
) (
    input  wire                      clk,
    input  wire                      en,
    input  wire                      clr,
    input  wire [LANES*A_BITS-1:0]   a,
    input  wire [LANES*B_BITS-1:0]   b,
    output wire [LANES*ACC_BITS-1:0] acc
);
    genvar i;
    generate
        for (i = 0; i < LANES; i = i + 1) begin : g_lane
            int8_mac #(.A_BITS(A_BITS), .B_BITS(B_BITS), .ACC_BITS(ACC_BITS)) u_mac (
                .clk(clk), .en(en), .clr(clr), .a(a[i*A_BITS +: A_BITS]), .b(b[i*B_BITS +: B_BITS]),
                .acc(acc[i*ACC_BITS +: ACC_BITS]));
        end
    endgenerate
endmodule
