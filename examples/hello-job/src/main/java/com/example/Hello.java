package com.example;

/** The example batch job: prints its arguments (a date partition, say) and a total. */
public final class Hello {
    public static void main(String[] args) {
        System.out.println("hello-job: processing partition " + (args.length > 0 ? args[0] : "(none)"));
        long sum = 0;
        for (int i = 1; i <= 1000; i++) {
            sum += i;
        }
        System.out.println("hello-job: total " + sum);
    }
}
