// int8_mac: integer MAC lane (clocked): acc <= acc + a * b, two's complement, exact.
//
// The baseline lane of issue 12's "OliVe lane vs INT8 lane" comparison: INT8 x INT8 products
// accumulated in a 32-bit register (the W8A8 PE of integer accelerators, e.g. the INT8 baseline of
// OliVe ISCA'23 §VI). Operands are the codes of hwsim's integer formats (`int8`, `int8_channel`,
// `int8_tensor`: -127..127; the lane also takes -128); scales are applied outside the lane.
// The accumulator is exact while the dot product fits ACC_BITS signed bits and wraps modulo
// 2^ACC_BITS beyond (INT8, 32 bits: at least 2^31 / 2^14 = 131,072 products).
//
// Parameters
//   A_BITS    width of operand a, 2..16 (default 8).
//   B_BITS    width of operand b, 2..16 (default 8).
//   ACC_BITS  accumulator width, A_BITS + B_BITS .. 64 (default 32).
//
// Ports
//   clk       rising-edge clock.
//   en        accumulate this cycle's product.
//   clr       start a new dot product: acc restarts from 0 (plus this cycle's product when en).
//   a, b      two's complement operands.
//   acc       the accumulated dot product (registered, two's complement).
//
// Illegal parameter combinations stop elaboration (Icarus, Verilator and yosys alike) by
// instantiating a module that does not exist; its name states the rule that was broken.
module int8_mac #(
    parameter integer A_BITS   = 8,
    parameter integer B_BITS   = 8,
    parameter integer ACC_BITS = 32
) (
    input  wire                       clk,
    input  wire                       en,
    input  wire                       clr,
    input  wire signed [A_BITS-1:0]   a,
    input  wire signed [B_BITS-1:0]   b,
    output reg  signed [ACC_BITS-1:0] acc
);
    generate
        if (A_BITS < 2 || A_BITS > 16 || B_BITS < 2 || B_BITS > 16) begin : g_bad_width
            int8_mac_ILLEGAL_A_BITS_or_B_BITS_not_in_2_to_16 illegal_parameters ();
        end
        if (ACC_BITS < A_BITS + B_BITS || ACC_BITS > 64) begin : g_bad_acc
            int8_mac_ILLEGAL_ACC_BITS_not_in_A_BITS_plus_B_BITS_to_64 illegal_parameters ();
        end
    endgenerate

    localparam integer PW = A_BITS + B_BITS;
    wire signed [PW-1:0]       p = a * b;
    wire signed [ACC_BITS-1:0] pext = {{(ACC_BITS-PW+1){p[PW-1]}}, p[PW-2:0]};

    always @(posedge clk) begin
        acc <= (clr ? {ACC_BITS{1'b0}} : acc) + (en ? pext : {ACC_BITS{1'b0}});
    end
endmodule
