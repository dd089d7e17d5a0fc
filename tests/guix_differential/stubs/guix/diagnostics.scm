;;; Stand-in for (guix diagnostics), written for this test: a condition
;;; carrying a format string and its arguments, which the driver reads to
;;; classify failures.
(define-module (guix diagnostics)
  #:use-module (srfi srfi-35)
  #:export (&formatted-message
            formatted-message
            formatted-message?
            formatted-message-string
            formatted-message-arguments))

(define-condition-type &formatted-message &error
  formatted-message?
  (format    formatted-message-string)
  (arguments formatted-message-arguments))

(define (formatted-message format-string . arguments)
  (make-condition &formatted-message
                  'format format-string
                  'arguments arguments))
