// adder_tree: exact sum of N two's-complement numbers (combinational binary tree).
//
// The tree splits the N inputs into a left half of N/2 and a right half of N - N/2 inputs and
// instantiates itself on each (recursion ends at N = 1, a wire), so every level adds one bit of
// width and no carry is ever dropped: the output has W + clog2(N) bits, enough for N times the
// most negative W-bit number. Depth clog2(N) adders.
//
// Parameters
//   N  number of addends, 1..1024.
//   W  width of each addend (two's complement), 1..256.
//
// Ports
//   x  N addends, addend i at bits [i*W +: W].
//   s  their exact sum, W + clog2(N) bits, two's complement.
//
// Illegal parameters stop elaboration (Icarus, Verilator, yosys) by instantiating a module that
// does not exist; its name states the rule that was broken.
module adder_tree #(
    parameter integer N = 32,
    parameter integer W = 16
) (
    input  wire [N*W-1:0]                    x,
    output wire signed [W+$clog2(N)-1:0]     s
);
    generate
        if (N < 1 || N > 1024) begin : g_bad_n
            adder_tree_ILLEGAL_N_not_in_1_to_1024 illegal_parameters ();
        end
        if (W < 1 || W > 256) begin : g_bad_w
            adder_tree_ILLEGAL_W_not_in_1_to_256 illegal_parameters ();
        end
    endgenerate

    localparam integer OW = W + $clog2(N);

    generate
        if (N == 1) begin : g_leaf
            assign s = x;
        end else begin : g_split
            localparam integer NL = N / 2;
            localparam integer NR = N - NL;
            localparam integer WL = W + $clog2(NL);
            localparam integer WR = W + $clog2(NR);
            wire signed [WL-1:0] sl;
            wire signed [WR-1:0] sr;
            adder_tree #(.N(NL), .W(W)) u_left  (.x(x[NL*W-1:0]),   .s(sl));
            adder_tree #(.N(NR), .W(W)) u_right (.x(x[N*W-1:NL*W]), .s(sr));
            wire signed [OW-1:0] el = {{(OW - WL){sl[WL-1]}}, sl};  // sign extension
            wire signed [OW-1:0] er = {{(OW - WR){sr[WR-1]}}, sr};
            assign s = el + er;
        end
    endgenerate
endmodule
