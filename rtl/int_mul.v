// int_mul: exact product of two integer element codes (combinational).
//
// Element encodings (hwsim.numerics.elements.IntElement; OCP MX v1.0 §5.3.2 for MXINT8;
// Darvish Rouhani et al., NeurIPS 2020 §3 for the sign-magnitude MSFP / BFP mantissas):
//   ENCODING 0 two's complement: code c is the integer c - 2^BITS when c >= 2^(BITS-1);
//   ENCODING 1 sign-magnitude:  code c = s << (BITS-1) | k is (-1)^s k (the code 1 0..0 is -0 = 0).
// The element's fixed binary point (hwsim's frac_bits) is not a parameter: the product is an
// integer and the caller applies 2^(-frac_a - frac_b) once.
//
// Parameters
//   BITS      code width, 2..16.
//   ENCODING  0 two's complement, 1 sign-magnitude.
//
// Ports
//   a, b  operand codes, BITS bits each.
//   p     their exact product, 2 BITS bits, two's complement (|p| <= 2^(2 BITS - 2)).
//
// Illegal parameters stop elaboration (Icarus, Verilator, yosys) by instantiating a module that
// does not exist; its name states the rule that was broken.
module int_mul #(
    parameter integer BITS     = 8,
    parameter integer ENCODING = 0
) (
    input  wire [BITS-1:0]          a,
    input  wire [BITS-1:0]          b,
    output wire signed [2*BITS-1:0] p
);
    generate
        if (BITS < 2 || BITS > 16) begin : g_bad_bits
            int_mul_ILLEGAL_BITS_not_in_2_to_16 illegal_parameters ();
        end
        if (ENCODING != 0 && ENCODING != 1) begin : g_bad_enc
            int_mul_ILLEGAL_ENCODING_not_0_twos_complement_or_1_sign_magnitude illegal_parameters ();
        end
    endgenerate

    generate
        if (ENCODING == 0) begin : g_twos
            wire signed [2*BITS-1:0] sa = {{BITS{a[BITS-1]}}, a};  // sign extension
            wire signed [2*BITS-1:0] sb = {{BITS{b[BITS-1]}}, b};
            assign p = sa * sb;  // the low 2 BITS bits of the product are exact
        end else begin : g_signmag
            wire [2*BITS-3:0] mag = {{(BITS - 1){1'b0}}, a[BITS-2:0]} * {{(BITS - 1){1'b0}}, b[BITS-2:0]};
            wire signed [2*BITS-1:0] m = {2'b00, mag};
            assign p = (a[BITS-1] ^ b[BITS-1]) ? -m : m;
        end
    endgenerate
endmodule
