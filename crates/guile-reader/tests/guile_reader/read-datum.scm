;; Reads the first datum of each file named on the command line, as Guix
;; reads a blob (a bytevector port: ISO-8859-1), or with `--file' first, as
;; it reads a file on disk (in a UTF-8 locale), and prints it on one line
;; in a canonical form that crates/guile-reader/src/lib.rs's tests print too, or `ERR'
;; followed by the exception's key.
;;
;; The form: `()', `#nil', `#t', `#f'; `(car . cdr)' for pairs; `#(…)'
;; for vectors and bitvectors; `s', `y' or `k' then the code points in hex
;; for strings, symbols and keywords; `c' then the code point for
;; characters; `i' then the value for exact integers of less than 63 bits,
;; `n' for other numbers.

(use-modules (ice-9 match)
             (rnrs bytevectors)
             (rnrs io ports))

(load "guix-reader.scm")

(define (code-points text)
  (string-join (map (lambda (c) (number->string (char->integer c) 16))
                    (string->list text))
               ","))

(define (canonical x)
  (cond ((eq? x '()) "()")
        ((eq? x #nil) "#nil")
        ((eq? x #t) "#t")
        ((eq? x #f) "#f")
        ((pair? x)
         (string-append "(" (canonical (car x)) " . " (canonical (cdr x)) ")"))
        ((vector? x)
         (string-append "#(" (string-join (map canonical (vector->list x)) " ") ")"))
        ((bitvector? x)
         (string-append "#(" (string-join (map canonical (bitvector->list x)) " ") ")"))
        ((string? x) (string-append "s" (code-points x)))
        ((symbol? x) (string-append "y" (code-points (symbol->string x))))
        ((keyword? x) (string-append "k" (code-points (symbol->string (keyword->symbol x)))))
        ((char? x) (string-append "c" (number->string (char->integer x) 16)))
        ((and (exact-integer? x) (< (abs x) (expt 2 63)))
         (string-append "i" (number->string x)))
        ((number? x) "n")
        (else "?")))

(define (file-bytes file)
  (let ((bv (call-with-input-file file get-bytevector-all #:binary #t)))
    (if (eof-object? bv) (make-bytevector 0) bv)))

(define (read-file file)
  (match (command-line)
    ((_ "--file" _ ...)
     (with-fluids ((%default-port-encoding "UTF-8"))
       (call-with-input-file file read)))
    (_
     (read (open-bytevector-input-port (file-bytes file))))))

(for-each (lambda (file)
            (display
             (catch #t
               (lambda ()
                 (let ((datum (read-file file)))
                   (if (eof-object? datum) "ERR eof" (canonical datum))))
               (lambda (key . args)
                 (string-append "ERR " (symbol->string key)))))
            (newline))
          (match (cdr (command-line))
            (("--file" files ...) files)
            (files files)))
