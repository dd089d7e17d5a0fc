;; The reader extensions that guix/gexp.scm installs (at its end): every
;; Guix process that reads a channel's files has loaded (guix gexp), so
;; its `read' knows #~, #$ and #+. Loaded by the other scripts here.

(use-modules (ice-9 match))

(define* (read-ungexp chr port #:optional native?)
  (define unquote-symbol
    (match (peek-char port)
      (#\@
       (read-char port)
       (if native? 'ungexp-native-splicing 'ungexp-splicing))
      (_
       (if native? 'ungexp-native 'ungexp))))
  (match (read port)
    ((? symbol? symbol)
     (let ((str (symbol->string symbol)))
       (match (string-index-right str #\:)
         (#f
          `(,unquote-symbol ,symbol))
         (colon
          (let ((name   (string->symbol (substring str 0 colon)))
                (output (substring str (+ colon 1))))
            `(,unquote-symbol ,name ,output))))))
    (x
     `(,unquote-symbol ,x))))

(read-hash-extend #\~ (lambda (chr port) `(gexp ,(read port))))
(read-hash-extend #\$ read-ungexp)
(read-hash-extend #\+ (lambda (chr port) (read-ungexp chr port #t)))
